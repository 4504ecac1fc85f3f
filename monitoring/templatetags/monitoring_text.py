"""Template filters that make figures readable: human times and checks in words (monitoring.check_texts)."""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.timesince import timesince, timeuntil

from monitoring import check_texts

register = template.Library()


def human_time(value: datetime) -> str:
    """ "25 Nov 2026, 14:05 UTC" in the panel's time zone."""
    local = timezone.localtime(value)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"


@register.filter
def when(value, relative: str = ""):
    """A timestamp as `<time datetime=…>25 Nov 2026, 14:05 UTC</time>`, with "(5 minutes ago)" when asked
    (`|when:"ago"`); "—" for none."""
    if isinstance(value, str):  # a time kept in JSON (a frozen record): ISO 8601
        value = parse_datetime(value) or value
    if not isinstance(value, datetime):
        return value or "—"
    now = timezone.now()
    extra = ""
    if relative:
        extra = (
            f" ({timesince(value, now).split(',')[0]} ago)"
            if value <= now
            else f" (in {timeuntil(value, now).split(',')[0]})"
        )
    return format_html('<time datetime="{}">{}</time>{}', value.isoformat(), human_time(value), extra)


@register.filter
def check_shown(row):
    """A CheckRow (or an alert) presented in words: see check_texts.present."""
    if hasattr(row, "check_name"):
        return check_texts.present(row.check_name, row.last_result)
    return check_texts.present(row.name, row.result)


@register.filter
def status_words(status: str) -> str:
    return check_texts.STATUS_WORDS.get(status, status)


@register.filter
def check_title(check_name: str) -> str:
    """A check's name in words ("Sales that carry a server (last 24 h)"), never its key."""
    return check_texts.text_for(check_name).title
