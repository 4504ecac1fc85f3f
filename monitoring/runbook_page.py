"""The runbook as a page the panel serves, so that every check, alert and mail can link to its section.

The markdown is rendered by a deliberately small reader (headings with anchors, fenced code, lists and paragraphs),
all text escaped: the runbook is a document of headings, prose and code, and needs nothing more.
"""

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from django.utils.text import slugify

RUNBOOK_FILE = Path(__file__).resolve().parent / "runbook" / "mode-switching-runbook.md"


@dataclass
class Block:
    kind: str  # "heading", "code", "list", "para"
    text: str = ""
    level: int = 0
    anchor: str = ""
    items: list = field(default_factory=list)


def anchor_of(heading: str) -> str:
    """ "### 📊 Critical Alerts (Requires Immediate Action)" → "critical-alerts-requires-immediate-action"."""
    return slugify(re.sub(r"[^\w\s:-]", " ", heading)).strip("-")


def parse(text: str) -> list[Block]:
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    para: list[str] = []

    def flush():
        if para:
            blocks.append(Block("para", " ".join(line.strip() for line in para)))
            para.clear()

    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            flush()
            code = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                code.append(lines[i])
                i += 1
            blocks.append(Block("code", "\n".join(code)))
        elif match := re.match(r"^(#{1,6})\s+(.*)$", line):
            flush()
            title = match.group(2).strip()
            blocks.append(Block("heading", title, level=len(match.group(1)), anchor=anchor_of(title)))
        elif re.match(r"^\s*([-*]|\d+\.)\s+", line):
            flush()
            items = []
            while i < len(lines) and re.match(r"^\s*([-*]|\d+\.)\s+", lines[i]):
                items.append(re.sub(r"^\s*([-*]|\d+\.)\s+", "", lines[i]).replace("**", ""))
                i += 1
            blocks.append(Block("list", items=items))
            continue
        elif not line.strip() or line.strip() == "---":
            flush()
        else:
            para.append(line.replace("**", ""))
        i += 1
    flush()
    return blocks


@cache
def runbook_blocks() -> tuple[Block, ...]:
    """The runbook's blocks, read once per process ([] when the file is missing)."""
    try:
        return tuple(parse(RUNBOOK_FILE.read_text(encoding="utf-8")))
    except OSError:
        return ()
