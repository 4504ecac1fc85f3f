"""Runbook 3.2 step 5, "Verify deployment: curl https://api.bartender.app/health — Expected: 200 OK with build hash
matching deployed version", then 3.3's 15-minute monitoring window.

The deployer enters the build hash they deployed; the panel polls BARTENDER_HEALTH_URL until it answers 200 with
that hash (a deployment takes a moment to roll out, so a mismatch is retried until PHASE3_POLL_TIMEOUT_SECONDS),
then starts monitoring's existing Phase 3 window. The window's verdict is Phase 3's state on the cockpit.
"""

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.timezone import localtime

from monitoring.enums import PhaseKind
from monitoring.health import selectors as monitoring_selectors
from monitoring.health import services as monitoring_services
from rollout.runbook.phase1 import Outcome, StepRefused, verify_flags_off

HASH_PATTERN = re.compile(r"^[0-9A-Za-z._-]{4,100}$")
# Keys under which health endpoints usually report their build; any string value matching counts too.
BUILD_KEYS = ("build", "buildHash", "build_hash", "commit", "sha", "gitSha", "version", "revision")
MAX_BODY = 64 * 1024


def clean_build_hash(value: str) -> str:
    value = (value or "").strip()
    if not HASH_PATTERN.match(value):
        raise StepRefused("Enter the build hash you deployed: 4 to 100 letters, digits, dots, dashes or underscores.")
    return value


def health_url() -> str:
    url = settings.BARTENDER_HEALTH_URL
    if not url:
        raise StepRefused(
            "BARTENDER_HEALTH_URL is not set: set it to the BarTender API's health URL "
            "(the runbook's https://api.bartender.app/health) and restart the panel and the worker."
        )
    if urlsplit(url).scheme not in ("http", "https"):
        raise StepRefused(f"BARTENDER_HEALTH_URL must be an http(s) URL, not {url!r}.")
    return url


@dataclass(frozen=True)
class Probe:
    status: int | None
    build: str
    matched: bool
    error: str
    ms: float

    def as_dict(self) -> dict:
        return {"status": self.status, "build": self.build, "matched": self.matched, "error": self.error, "ms": self.ms}

    def in_words(self) -> str:
        if self.error:
            return self.error
        return f"HTTP {self.status}" + (f" with build {self.build}" if self.build else " without a build hash")


def _builds_in(document) -> list[str]:
    """Every string a JSON health document gives under a build-like key, then every other string in it."""
    found, others = [], []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str) and key in BUILD_KEYS:
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            others.append(node)

    walk(document)
    return found + others


def _matches(seen: str, expected: str) -> bool:
    # A short hash (7+ characters) matches the full one it abbreviates, either way round.
    seen, expected = seen.strip().lower(), expected.strip().lower()
    if seen == expected:
        return True
    shorter, longer = sorted((seen, expected), key=len)
    return len(shorter) >= 7 and longer.startswith(shorter)


def probe(url: str, expected: str) -> Probe:
    """One GET of the health URL: its status and whether its body names the expected build."""
    started = time.perf_counter()
    # health_url() admits http(s) only.
    request = urllib.request.Request(  # noqa: S310
        url, headers={"Accept": "application/json", "User-Agent": "bartender-panel"}
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.PHASE3_HTTP_TIMEOUT_SECONDS) as response:  # noqa: S310
            status, body = response.status, response.read(MAX_BODY).decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return Probe(exc.code, "", False, f"HTTP {exc.code} {exc.reason}", _ms(started))
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return Probe(None, "", False, f"no answer from {url}: {reason}", _ms(started))
    try:
        candidates = _builds_in(json.loads(body))
    except ValueError:
        candidates = re.findall(r"[0-9A-Za-z._-]{4,100}", body)
    build = next((c for c in candidates if _matches(c, expected)), candidates[0] if candidates else "")
    return Probe(status, build[:100], status == 200 and _matches(build, expected), "", _ms(started))


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


@dataclass
class Wait:
    """What polling the health URL for a build found: whether it came, every try (the last 20 kept), the last."""

    matched: bool
    attempts: list[dict]
    last: Probe
    timeout: float
    tries: int

    def failure(self, url: str, expected: str) -> str:
        return (f"After {self.tries} tries over {self.timeout:g} s, {url} never answered 200 with build "
                f"{expected} (last: {self.last.in_words()}).")  # fmt: skip


def wait_for_build(
    url: str, expected: str, *, progress: Callable[[int, str], None], sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Wait:  # fmt: skip
    """Poll `url` until it answers 200 with `expected` or PHASE3_POLL_TIMEOUT_SECONDS pass (a deployment, or a
    rollback, takes a moment to roll out), every PHASE3_POLL_SECONDS; the clock and the sleep are the caller's."""
    timeout, interval = settings.PHASE3_POLL_TIMEOUT_SECONDS, settings.PHASE3_POLL_SECONDS
    deadline = clock() + timeout
    attempts: list[dict] = []
    while True:
        seen = probe(url, expected)
        attempts.append(seen.as_dict())
        if seen.matched:
            return Wait(True, attempts[-20:], seen, timeout, len(attempts))
        left = deadline - clock()
        if left <= 0:
            return Wait(False, attempts[-20:], seen, timeout, len(attempts))
        progress(
            min(90, 5 + int(85 * (1 - left / timeout))),
            f"try {len(attempts)}: {seen.in_words()}; trying again in {interval:g} s",
        )
        sleep(min(interval, left))


def verify_deployment(
    *,
    build_hash: str,
    actor,
    progress: Callable[[int, str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Outcome:
    """Poll the health URL until it serves the expected build (or time runs out), then start the Phase 3 window."""
    url = health_url()
    expected = clean_build_hash(build_hash)
    wait = wait_for_build(url, expected, progress=progress, sleep=sleep, clock=clock)
    attempts, seen, tries = wait.attempts, wait.last, wait.tries
    if not wait.matched:
        return Outcome(
            False, wait.failure(url, expected),
            {"url": url, "expected": expected, "attempts": attempts, "tries": tries},
        )  # fmt: skip
    # Runbook 3.1 "Feature flags still OFF": read again now, before Phase 3's window may start.
    flags = verify_flags_off()
    if not flags.passed:
        return Outcome(
            False, f"{url} serves build {seen.build}, but the flags must still be off before Phase 3: {flags.summary}",
            {"url": url, "expected": expected, "attempts": attempts, "tries": tries, "flags": flags.result},
        )  # fmt: skip
    progress(95, f"{url} serves build {seen.build}; starting the 15-minute monitoring window")
    try:
        window = monitoring_services.start_phase_window(kind=PhaseKind.PHASE3, user=actor)
        note = f"15-minute monitoring window started, verdict at {localtime(window.ends_at):%H:%M %Z}."
    except monitoring_services.PhaseWindowAlreadyRunning:
        window = monitoring_selectors.pending_window(PhaseKind.PHASE3)
        note = f"The Phase 3 window already running carries on (verdict at {localtime(window.ends_at):%H:%M %Z})."
    return Outcome(
        True,
        f"{url} answered 200 with build {seen.build} after {tries} tr{'y' if tries == 1 else 'ies'}; flags still "
        "off. " + note,
        {"url": url, "expected": expected, "attempts": attempts, "tries": tries, "window": window.pk,
         "flags": flags.result},  # fmt: skip
    )
