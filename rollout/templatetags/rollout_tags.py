"""Small template filters of the rollout pages."""

import re

from django import template

from monitoring.incidents.communication import one_line
from rollout.backups.dumps import human_size

register = template.Library()


@register.filter
def file_size(size) -> str:
    """Bytes as a size a person reads (12.3 MB)."""
    try:
        return human_size(int(size))
    except (TypeError, ValueError):
        return "—"


@register.filter
def flag_plain(flag) -> tuple[str, str]:
    """(css class, words) of a flag annotated with `allow_listed`: "On for 12 allow-listed bars", "Off — 0 bars"."""
    return flag.plain_state(getattr(flag, "allow_listed", 0) or 0)


TABLE_WORDS = {
    "sales": "Sales",
    "consignments": "Consignments",
    "returns": "Returns",
    "audit_logs": "Audit logs (what BarTender reports)",
    "migration_server_id_log": "Migration log (one row per backfilled sale)",
}


@register.filter
def table_words(table: str) -> str:
    return TABLE_WORDS.get(table, table)


# What lets typed text change the record's structure: HTML, a table cell, a link, code, a heading. Emphasis (_ *)
# is left alone: file names and check keys stay as they were typed.
STRUCTURAL = re.compile(r"([\\`\[\]<>|#])")


def markdown_escape(text: str) -> str:
    return STRUCTURAL.sub(r"\\\1", one_line(text))


@register.filter
def md(text) -> str:
    """Text people typed, in the record's Markdown: one line, its structural punctuation escaped (no forged line,
    heading, table cell, link, code or HTML)."""
    if text is None:
        return ""
    return markdown_escape(str(text))


@register.filter
def md_quote(text) -> str:
    """Several lines people typed, as a Markdown quote: every line escaped and quoted (no heading or HTML)."""
    lines = [markdown_escape(line) for line in str(text or "").splitlines() if line.strip()]
    return "\n".join(f"> {line}" for line in lines)
