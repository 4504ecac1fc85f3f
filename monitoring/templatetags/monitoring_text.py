"""Template filters that make figures readable: human times and checks in words (monitoring.health.check_texts)."""

from datetime import datetime

from django import template
from django.utils.dateparse import parse_datetime

from adminpanel.templatetags import panel_tags
from monitoring.health import check_presentation, check_texts

register = template.Library()


@register.filter
def when(value, relative: str = ""):
    """The panel's human time (adminpanel panel_tags: `<time datetime=…>25 Nov 2026, 14:05 UTC</time>`), with
    "(5 minutes ago)" when asked (`|when:"ago"`); also for times kept as ISO text in JSON (frozen records)."""
    if isinstance(value, str):
        value = parse_datetime(value) or value
    if not isinstance(value, datetime):
        return value or "—"
    return panel_tags.when_ago(value) if relative else panel_tags.when(value)


@register.filter
def check_shown(row):
    """A CheckRow (or an alert) presented in words: see check_presentation.present."""
    if hasattr(row, "check_name"):
        return check_presentation.present(row.check_name, row.last_result)
    return check_presentation.present(row.name, row.result)


@register.filter
def status_words(status: str) -> str:
    return check_texts.STATUS_WORDS.get(status, status)


@register.filter
def check_title(check_name: str) -> str:
    """A check's name in words ("Sales that carry a server (last 24 h)"), never its key."""
    return check_texts.text_for(check_name).title
