"""The runbook as a page the panel serves, so that every check, alert and mail can link to its section.

Rendered by markdown-it-py (CommonMark) with GFM tables and strikethrough, and the mdit-py-plugins anchors plugin
(every heading gets a stable id, the one the check texts link to: monitoring.health.check_texts) and tasklists plugin
(checklist boxes shown, disabled). Raw HTML in the file is not passed through: `html` is off, so a tag in the source
is printed as text, and markdown-it's link validation drops javascript:/data: links. Fenced code is kept as
<pre><code class="language-…">, unhighlighted (no script, nothing the CSP would have to allow).
"""

import re
from functools import cache
from pathlib import Path

from django.utils.text import slugify
from markdown_it import MarkdownIt
from mdit_py_plugins.anchors import anchors_plugin
from mdit_py_plugins.tasklists import tasklists_plugin

RUNBOOK_FILE = Path(__file__).resolve().parent.parent / "runbook" / "mode-switching-runbook.md"


def anchor_of(heading: str) -> str:
    """ "📊 Critical Alerts (Requires Immediate Action)" → "critical-alerts-requires-immediate-action" (the ids the
    check texts and e2e tests already link to, unchanged from the earlier hand-written reader)."""
    return slugify(re.sub(r"[^\w\s:-]", " ", heading)).strip("-")


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    anchors_plugin(md, min_level=1, max_level=6, slug_func=anchor_of)
    tasklists_plugin(md, enabled=False)
    return md


TASK_BOX = '<input class="task-list-item-checkbox"'
# A checklist box is a control: it carries a name a screen reader can say (the panel tracks the steps, not the page).
NAMED_TASK_BOX = TASK_BOX + ' aria-label="Runbook checklist item (the cockpit tracks it, not this page)"'


def render(text: str) -> str:
    """Markdown → HTML, raw HTML escaped."""
    return _markdown().render(text).replace(TASK_BOX, NAMED_TASK_BOX)


def heading_anchors(text: str) -> list[str]:
    """Every heading's id, in order (what a link into the page may point at)."""
    return [
        token.attrs["id"] for token in _markdown().parse(text) if token.type == "heading_open" and "id" in token.attrs
    ]


@cache
def runbook_source() -> str:
    """The runbook file, read once per process ("" when it is missing)."""
    try:
        return RUNBOOK_FILE.read_text(encoding="utf-8")
    except OSError:
        return ""


@cache
def runbook_html() -> str:
    return render(runbook_source()) if runbook_source() else ""


def runbook_anchors() -> set[str]:
    return set(heading_anchors(runbook_source()))
