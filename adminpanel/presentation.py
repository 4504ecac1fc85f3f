"""How values are shown to people (issue 14), shared by templates (``panel_tags``), CSV exports and admin pages:
times a person reads, JSON for anything structured (never a Python repr)."""

import json
from datetime import datetime

from django.utils import timezone


def human_time(value: datetime, *, seconds: bool = False) -> str:
    """ "25 Nov 2026, 14:05 UTC" in the panel's time zone."""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    fmt = "%d %b %Y, %H:%M:%S" if seconds else "%d %b %Y, %H:%M"
    return f"{local.strftime(fmt).lstrip('0')} {local.tzname() or ''}".strip()


def as_json_text(value) -> str:
    """Structured data as JSON a person (and a spreadsheet) reads: keys sorted, accents kept."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
