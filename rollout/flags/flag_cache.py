"""Per-process cache of flag readings for the flag API, invalidated on write through PostgreSQL LISTEN/NOTIFY.

Every client device polls `GET /api/v1/flags`, so the answer is kept in memory per bar. Freshness does not rest on
a timer: triggers (migration rollout 0003) send a notification on channel ``bartender_flags`` when a transaction
that changes a flag, an allow-list or a bar's operating mode commits — whichever client made the change, the
panel or plain SQL. The process's listener (adminpanel.pg_notify, shared with the API token cache) drops what
changed (one bar, or everything). While the listener is not connected, nothing is cached and every request reads
the database, so a lost connection can never serve a stale answer (and a silent one for at most
``LISTEN_MAX_SILENCE_SECONDS``: see adminpanel.pg_notify).

Beside the per-bar readings it keeps the bulk snapshots of `GET /api/v1/flags/snapshot` (every bar's reading, and
the finished response body per token scope); any notification drops them all, including the ``bar-added`` one
that a new bar sends (migration rollout 0008), since a snapshot lists every bar.
"""

import threading

from django.conf import settings

from adminpanel.pg_notify import EVERYTHING, listener

CHANNEL = "bartender_flags"
SNAPSHOTS_KEPT = 256


class FlagCache:
    def __init__(self):
        self._entries: dict[str, object] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._snapshots: dict[object, object] = {}
        self._everything_at = 0  # generation of the last change to everything
        self._changed_at: dict[str, int] = {}  # generation of the last change per bar (or other payload)

    # --- reading and filling -----------------------------------------------------------------------------
    def enabled(self) -> bool:
        if not getattr(settings, "ROLLOUT_FLAG_CACHE", True):
            return False
        self._ensure_listener()
        return listener.listening()

    def generation(self) -> int:
        return self._generation

    def get(self, bar_id: str):
        return self._entries.get(bar_id) if self.enabled() else None

    def put(self, bar_id: str, reading, *, generation: int) -> None:
        """Keep a reading computed when the cache was at `generation`; dropped if a change to this bar (or to
        everything) arrived meanwhile. Changes to other bars do not count: a bar added or switched elsewhere
        must not keep every poll in flight from being kept."""
        with self._lock:
            if (
                listener.listening()
                and self._everything_at <= generation
                and self._changed_at.get(bar_id, 0) <= generation
            ):
                self._entries[bar_id] = reading

    def get_snapshot(self, key):
        return self._snapshots.get(key) if self.enabled() else None

    def put_snapshot(self, key, snapshot, *, generation: int) -> None:
        """Keep a snapshot computed at `generation` (dropped if a change arrived meanwhile)."""
        with self._lock:
            if listener.listening() and generation == self._generation:
                if len(self._snapshots) >= SNAPSHOTS_KEPT:
                    self._snapshots.clear()  # bounded: many scoped tokens rebuild theirs from the kept table
                self._snapshots[key] = snapshot

    def invalidate(self, payload: str) -> None:
        with self._lock:
            self._generation += 1
            self._snapshots = {}
            if payload == EVERYTHING:
                self._entries.clear()
                self._changed_at.clear()
                self._everything_at = self._generation
            else:
                self._entries.pop(payload, None)
                self._changed_at[payload] = self._generation  # at most one key per bar

    # --- the listener (shared) ----------------------------------------------------------------------------
    def _ensure_listener(self) -> None:
        listener.ensure_started()

    def stop(self) -> None:
        """Close the process's listener (tests, before their database is dropped); the next use starts it again."""
        listener.stop()
        self.invalidate(EVERYTHING)

    def wait_until_listening(self, timeout: float) -> bool:
        self._ensure_listener()
        return listener.wait_until_listening(timeout)


flag_cache = FlagCache()
listener.subscribe(CHANNEL, flag_cache.invalidate)
