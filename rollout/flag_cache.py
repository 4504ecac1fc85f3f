"""Per-process cache of flag readings for the flag API, invalidated on write through PostgreSQL LISTEN/NOTIFY.

Every client device polls `GET /api/v1/flags`, so the answer is kept in memory per bar. Freshness does not rest on
a timer: triggers (migration rollout 0003) send a notification on channel ``bartender_flags`` when a transaction
that changes a flag, an allow-list or a bar's operating mode commits — whichever client made the change, the
panel or plain SQL. Each process listens on its own connection in a daemon thread and drops what changed (one bar,
or everything). While the listener is not connected, nothing is cached and every request reads the database, so a
lost connection can never serve a stale answer.
"""

import logging
import threading

import psycopg
from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

CHANNEL = "bartender_flags"
EVERYTHING = "*"


class FlagCache:
    def __init__(self):
        self._entries: dict[str, object] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- reading and filling -----------------------------------------------------------------------------
    def enabled(self) -> bool:
        if not getattr(settings, "ROLLOUT_FLAG_CACHE", True):
            return False
        self._ensure_listener()
        return self._listening.is_set()

    def generation(self) -> int:
        return self._generation

    def get(self, bar_id: str):
        return self._entries.get(bar_id) if self.enabled() else None

    def put(self, bar_id: str, reading, *, generation: int) -> None:
        """Keep a reading computed when the cache was at `generation`; dropped if a change arrived meanwhile."""
        with self._lock:
            if self._listening.is_set() and generation == self._generation:
                self._entries[bar_id] = reading

    def invalidate(self, payload: str) -> None:
        with self._lock:
            self._generation += 1
            if payload == EVERYTHING:
                self._entries.clear()
            else:
                self._entries.pop(payload, None)

    # --- the listener ---------------------------------------------------------------------------------------
    def _ensure_listener(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                params = connection.get_connection_params()
                self._thread = threading.Thread(target=self._listen, args=(params,), name="flag-cache", daemon=True)
                self._thread.start()

    def _listen(self, params: dict) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(**{**params, "autocommit": True}) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.invalidate(EVERYTHING)  # whatever happened while not listening
                    self._listening.set()
                    delay = 0.5
                    while not self._stop.is_set():
                        for notify in conn.notifies(timeout=1.0):
                            self.invalidate(notify.payload or EVERYTHING)
            except Exception:  # noqa: BLE001 (any failure: stop caching, then reconnect)
                logger.warning("flag cache listener lost its connection; caching paused", exc_info=True)
            self._listening.clear()
            self.invalidate(EVERYTHING)
            self._stop.wait(delay)
            delay = min(delay * 2, 10.0)

    def stop(self) -> None:
        """Close the listener (tests, before their database is dropped); the next use starts a new one."""
        thread = self._thread
        if thread is not None:
            self._stop.set()
            thread.join(timeout=5)
        self._listening.clear()
        self.invalidate(EVERYTHING)
        self._thread = None
        self._stop.clear()

    def wait_until_listening(self, timeout: float) -> bool:
        self._ensure_listener()
        return self._listening.wait(timeout)


flag_cache = FlagCache()
