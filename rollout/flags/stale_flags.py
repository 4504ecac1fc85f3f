"""The flag API when PostgreSQL is unreachable (issue 22): serve the last flags this process answered, marked stale.

Every answer the flag API gives is remembered per process, keyed by the token that asked (its hash) and what it
asked for (a bar, or the snapshot's scope), with the time it was last known current. When reading the token or the
flags raises a database error, the API answers the remembered body with ``X-Flags-Stale`` and ``Age`` (seconds),
as long as it is younger than ``FLAG_API_STALE_MAX_SECONDS``; else ``503`` with ``Retry-After`` and a JSON body. Only
a token already answered for that bar gets it (no database: no new token, no new bar).

Never "on" after a kill switch was seen: while the database answers, the process reads whether a kill switch is
engaged once per flag-cache change (and at least every ``KILL_SWITCH_RECHECK_SECONDS``); if the last look saw it
engaged, a remembered answer with a flag on is not served (503 instead).
"""

import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError

from adminpanel.models.api import hash_token
from rollout.flags.flag_cache import flag_cache
from rollout.models import FeatureFlag

# Errors that mean "the database is unreachable", not a bug (a bug still answers 500).
UNREACHABLE = (OperationalError, InterfaceError)
KEPT = 50_000  # remembered answers per process at most (a poll per device: the whole fleet fits)
KILL_SWITCH_RECHECK_SECONDS = 1.0
RETRY_AFTER_SECONDS = 5

clock = time.monotonic  # tests drive it


@dataclass(frozen=True)
class Remembered:
    etag: str
    body: bytes
    any_on: bool
    at: float


class StaleFlags:
    def __init__(self):
        self._answers: dict[tuple, Remembered] = {}
        self._lock = threading.Lock()
        self._kill_checked_generation = -1
        self._kill_checked_at = float("-inf")
        self.kill_switch_seen = False

    @staticmethod
    def token_key(request) -> str:
        scheme, _, raw = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        return hash_token(raw.strip()) if scheme.lower() == "bearer" and raw.strip() else ""

    def remember(self, request, what, *, etag: str, body: bytes, any_on) -> None:
        """Keep a fresh answer (called with the database reachable); `any_on()` says whether a flag is on in it,
        asked only when the answer changed."""
        key = (self.token_key(request), what)
        self._look_at_kill_switch()
        previous = self._answers.get(key)
        if previous is None and len(self._answers) >= KEPT:
            with self._lock:
                self._answers.clear()  # bounded; the next polls fill it again
        on = previous.any_on if previous is not None and previous.etag == etag else bool(any_on())
        self._answers[key] = Remembered(etag, body, on, clock())

    def _look_at_kill_switch(self) -> None:
        generation, now = flag_cache.generation(), clock()
        if generation == self._kill_checked_generation and now - self._kill_checked_at < KILL_SWITCH_RECHECK_SECONDS:
            return
        try:
            self.kill_switch_seen = FeatureFlag.objects.filter(kill_switch_engaged=True).exists()
        except DatabaseError:
            return
        self._kill_checked_generation, self._kill_checked_at = generation, now

    def recall(self, request, what) -> tuple[Remembered | None, float]:
        """The remembered answer for this token and this request, if it may still be served, and its age."""
        found = self._answers.get((self.token_key(request), what))
        if found is None:
            return None, 0.0
        age = clock() - found.at
        if age > float(getattr(settings, "FLAG_API_STALE_MAX_SECONDS", 300)):
            return None, age
        if found.any_on and self.kill_switch_seen:
            return None, age
        return found, age

    def clear(self) -> None:
        with self._lock:
            self._answers.clear()
            self.kill_switch_seen = False
            self._kill_checked_generation, self._kill_checked_at = -1, float("-inf")


stale_flags = StaleFlags()
