"""Template filters every page shares (issue 14): times a person reads, JSON for structured cells.

``{% load panel_tags %}`` then ``{{ run.started_at|when }}`` → ``<time datetime="2026-11-25T14:05:09+00:00">25 Nov
2026, 14:05 UTC</time>``; ``|when_ago`` adds "(5 minutes ago)"; ``|as_json`` prints a value as JSON.
"""

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.timesince import timesince

from adminpanel.presentation import as_json_text, human_time

register = template.Library()


def _time_tag(value, text: str):
    return format_html('<time datetime="{}">{}</time>', value.isoformat(), text)


@register.filter
def when(value, precision: str = ""):
    """A timestamp as ``<time>`` with a human text; "—" for none. ``|when:"seconds"`` keeps the seconds."""
    if not isinstance(value, datetime):
        return "—"
    return _time_tag(value, human_time(value, seconds=precision == "seconds"))


@register.filter
def when_ago(value):
    """Like ``when``, followed by how long ago it was ("2 hours ago") or "in …" for a future time."""
    if not isinstance(value, datetime):
        return "—"
    now = timezone.now()
    relative = f"{timesince(value, now, depth=1)} ago" if value <= now else f"in {timesince(now, value, depth=1)}"
    return format_html('{} <span class="muted">({})</span>', _time_tag(value, human_time(value)), relative)


@register.filter
def as_json(value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value
    return as_json_text(value)


@register.filter
def get_item(mapping, key):
    """``mapping[key]`` in a template ("" when absent)."""
    try:
        return mapping.get(key, "")
    except AttributeError:
        return ""


@register.filter
def num(value) -> str:
    """An integer with thousands separators (49,403); other values as they are."""
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return value
