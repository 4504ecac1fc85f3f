"""Checks a first-time user would make of every page (STYLE.md, "Pages for people"), written in the test.

``PageReview`` is used by the per-role walks: ``review.visit(page, "manager", "mappings")`` takes the page as it
is now, at each width of ``WIDTHS``, asserts:

- no horizontal overflow (the document is no wider than the window),
- every visible form control and button has an accessible name,
- every ``<th>`` has ``scope``, every ``<img>`` an ``alt``,
- messages live in an ``aria-live`` region,
- text contrast of at least 4.5:1 against the background it is drawn on,
- none of the texts an author leaks (template comments, Python reprs, raw check keys, "Enter a valid UUID"),
- no console error,

and writes a full-page screenshot to ``test-artifacts/screenshots/<role>/<name>-<width>px.png`` for review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
WIDTHS = (1400, 390)

# Texts a page must never show a person: template syntax, Python reprs, raw keys, form-library jargon.
LEAKS = [
    re.compile(r"\{#|#\}|\{%|%\}|\{\{|\}\}"),
    re.compile(r"<QuerySet|<[A-Z]\w+: |object at 0x|=None\b|: None\b|\bNone[,)]"),
    re.compile(r"\{'[a-z_]+': "),
    re.compile(r"\[\{'|'\}\]"),
    re.compile(r"\b(server_id_coverage|fallback_rate|db_connections|server_id_errors|rls_client_latency)\b"),
    re.compile(r"Enter a valid UUID"),
    re.compile(r"USERNAME_FIELD"),
    re.compile(r"Traceback \(most recent call last\)"),
]

_CONTROLS_WITHOUT_NAME = """() => {
  const visible = (el) => {
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') return false;
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const named = (el) => {
    if ((el.getAttribute('aria-label') || '').trim()) return true;
    const by = el.getAttribute('aria-labelledby');
    if (by && by.split(/\\s+/).some((id) => (document.getElementById(id)?.textContent || '').trim())) return true;
    if (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)?.textContent.trim()) return true;
    if (el.closest('label') && el.closest('label').textContent.trim()) return true;
    if ((el.getAttribute('title') || '').trim()) return true;
    if (el.tagName === 'BUTTON' || (el.tagName === 'INPUT' && ['submit', 'button', 'reset'].includes(el.type))) {
      return ((el.textContent || '').trim() || (el.value || '').trim()).length > 0;
    }
    if (el.tagName === 'A') return (el.textContent || '').trim().length > 0;
    return false;
  };
  const controls = document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button, a[href]'
  );
  return [...controls].filter((el) => visible(el) && !named(el)).map((el) => el.outerHTML.slice(0, 160));
}"""

_NESTED_INTERACTIVE = """() => [...document.querySelectorAll('a button, a input, a select, button a, button button')]
  .map((el) => el.outerHTML.slice(0, 160))"""

_TABLE_PROBLEMS = """() => [
  ...[...document.querySelectorAll('th:not([scope])')].map((th) => 'th without scope: ' + th.outerHTML.slice(0, 120)),
  ...[...document.querySelectorAll('img:not([alt])')].map((img) => 'img without alt: ' + img.outerHTML.slice(0, 120)),
]"""

_OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const over = [];
  if (document.documentElement.scrollWidth > width + 1) {
    for (const el of document.body.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      if (box.right > width + 1 && getComputedStyle(el).position !== 'fixed') {
        // Only report outermost offenders: skip children inside a horizontally scrollable box.
        let parent = el.parentElement, scrolled = false;
        while (parent && parent !== document.body) {
          const ox = getComputedStyle(parent).overflowX;
          if (ox === 'auto' || ox === 'scroll' || ox === 'hidden') { scrolled = true; break; }
          parent = parent.parentElement;
        }
        if (!scrolled) over.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(box.right)}`);
      }
    }
    return {scrollWidth: document.documentElement.scrollWidth, width, offenders: over.slice(0, 8)};
  }
  return null;
}"""

_LOW_CONTRAST = """() => {
  const parse = (c) => {
    const m = c.match(/rgba?\\(([^)]+)\\)/);
    if (!m) return null;
    const p = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const lum = ({r, g, b}) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = (el) => {
    for (let node = el; node; node = node.parentElement) {
      const bg = parse(getComputedStyle(node).backgroundColor);
      if (bg && bg.a > 0.5) return bg;
    }
    return {r: 255, g: 255, b: 255, a: 1};
  };
  const bad = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || seen.has(el) || !walker.currentNode.textContent.trim()) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    if (style.display === 'none' || style.visibility === 'hidden') continue;
    if (el.closest('[hidden],[aria-hidden=true]')) continue;
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) continue;
    const fg = parse(style.color);
    if (!fg) continue;
    const bg = background(el);
    const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    if (ratio < 4.5) bad.push(`${ratio.toFixed(2)}:1 "${el.textContent.trim().slice(0, 40)}"`);
  }
  return bad.slice(0, 8);
}"""

_MESSAGES_LIVE = """() => {
  const messages = document.querySelectorAll('.messages, [data-messages]');
  return [...messages].filter((m) => !m.closest('[aria-live]') && !m.closest('[role=status],[role=alert]'))
    .map((m) => m.outerHTML.slice(0, 120));
}"""


@dataclass
class PageReview:
    """Collects console errors of one browser page and reviews each screen it visits."""

    page: object
    console_errors: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)
    extra_leaks: list[re.Pattern] = field(default_factory=list)
    # Console errors a screen is expected to cause (e.g. the 404 of a page that tests the 404 screen).
    allowed_console: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.page.on("console", lambda m: self.console_errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error)))

    def problems(self) -> list[str]:
        """Everything a first-time user would trip over on the page as it is now, at the current width."""
        page = self.page
        found: list[str] = []
        overflow = page.evaluate(_OVERFLOW)
        if overflow:
            found.append(f"horizontal overflow: {overflow}")
        found += [f"control without a name: {html}" for html in page.evaluate(_CONTROLS_WITHOUT_NAME)]
        found += [f"control inside a control: {html}" for html in page.evaluate(_NESTED_INTERACTIVE)]
        found += page.evaluate(_TABLE_PROBLEMS)
        found += [f"contrast below 4.5:1: {text}" for text in page.evaluate(_LOW_CONTRAST)]
        found += [f"message outside an aria-live region: {html}" for html in page.evaluate(_MESSAGES_LIVE)]
        text = page.inner_text("body")
        for pattern in LEAKS + self.extra_leaks:
            match = pattern.search(text)
            if match:
                start = max(match.start() - 40, 0)
                found.append(f"leaked text {pattern.pattern!r}: …{text[start : match.end() + 40]}…")
        found += [
            f"console error: {error}"
            for error in self.console_errors
            if not any(allowed in error for allowed in self.allowed_console)
        ]
        return found

    def visit(self, role: str, name: str, widths=WIDTHS) -> None:
        """Review the current page at every width and write its screenshots; fail with every problem found."""
        page = self.page
        original = page.viewport_size or {"width": 1400, "height": 900}
        problems: list[str] = []
        for width in widths:
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_function("() => document.readyState === 'complete'")
            path = SCREENSHOTS / role / f"{name}-{width}px.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path), full_page=True)
            self.shots.append(path)
            problems += [f"[{role}/{name} @ {width}px] {problem}" for problem in self.problems()]
        page.set_viewport_size(original)
        self.console_errors.clear()
        assert problems == [], "\n".join(problems)
