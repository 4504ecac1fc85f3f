"""One PostgreSQL LISTEN connection per process, for caches that must drop what changed the moment a change
commits, whichever process or client made it (the flag API's flag cache, the API token cache).

A cache subscribes a callback to a channel; database triggers ``pg_notify`` that channel on commit. The listener
runs in a daemon thread with its own connection. When it (re)connects, and when it loses its connection, every
callback is called with `EVERYTHING`, since notifications sent meanwhile are lost; and a cache must keep nothing
while `listening()` is false, so a lost connection can never serve a stale answer.

It lives in the bottom layer so that any app can use it (rollout's flag cache, adminpanel's token cache) without
an import against the arrow.

How long a silent connection may keep caches serving is bounded: the thread confirms the connection with a round
trip (``SELECT 1``) after every `HEARTBEAT_SECONDS` without notifications, and `listening()` turns false once
nothing has been heard from PostgreSQL for ``LISTEN_MAX_SILENCE_SECONDS`` (default 3 s), whatever the thread is
doing (blocked on a half-open TCP connection, starved, dead). So after a kill switch commits, a process can serve
a cached "on" for at most that long even when its notification never arrives; normally the notification drops the
entry within milliseconds. TCP keepalives and ``tcp_user_timeout`` make a half-open connection fail within seconds
so the thread reconnects.
"""

import logging
import threading
import time
from collections.abc import Callable

import psycopg
from django.conf import settings
from psycopg import sql

from adminpanel.db_sessions import direct_connection_params

logger = logging.getLogger(__name__)

EVERYTHING = "*"
HEARTBEAT_SECONDS = 1.0
# A dead peer must fail the listener's connection within seconds (so it reconnects), not after TCP's 2 hours.
KEEPALIVE_PARAMS = {
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 1,
    "keepalives_count": 3,
    "tcp_user_timeout": 5000,
}


def max_silence_seconds() -> float:
    """How long caches may serve without having heard from PostgreSQL (``LISTEN_MAX_SILENCE_SECONDS``)."""
    return float(getattr(settings, "LISTEN_MAX_SILENCE_SECONDS", 3.0))


class NotificationListener:
    def __init__(self):
        self._subscribers: dict[str, list[Callable[[str], None]]] = {}
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._resubscribe = threading.Event()
        self._thread: threading.Thread | None = None
        self._live_channels: frozenset[str] = frozenset()
        self._heard_at = float("-inf")  # clock() when PostgreSQL last answered on the live connection
        self.clock = time.monotonic  # tests drive it
        self.backend_pid: int | None = None  # the live connection's server process (tests end it)

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> None:
        """Call `callback(payload)` for each notification on `channel` (payload `EVERYTHING` after any gap)."""
        with self._lock:
            callbacks = self._subscribers.setdefault(channel, [])
            if callback not in callbacks:
                callbacks.append(callback)
        self._resubscribe.set()  # a running listener reconnects to LISTEN on the new channel too

    def listening(self) -> bool:
        """Whether notifications are arriving right now: connected, and PostgreSQL heard from within the last
        ``LISTEN_MAX_SILENCE_SECONDS`` (caches keep and serve nothing otherwise)."""
        return self._listening.is_set() and self.clock() - self._heard_at < max_silence_seconds()

    def listening_to(self, channel: str) -> bool:
        """Whether the live connection has LISTENed on `channel` (a later subscription reconnects first)."""
        return self.listening() and channel in self._live_channels

    def _heard(self) -> None:
        self._heard_at = self.clock()

    def ensure_started(self) -> None:
        """Start the listener thread of this process if it is not running (after a fork, for instance)."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                params = direct_connection_params()
                self._thread = threading.Thread(target=self._listen, args=(params,), name="pg-listen", daemon=True)
                self._thread.start()

    def wait_until_listening(self, timeout: float) -> bool:
        self.ensure_started()
        return self._listening.wait(timeout)

    def stop(self) -> None:
        """Close the listener (tests, before their database is dropped); the next use starts a new one."""
        thread = self._thread
        if thread is not None:
            self._stop.set()
            thread.join(timeout=5)
        self._listening.clear()
        self._tell_everyone()
        self._thread = None
        self._stop.clear()

    # --- the thread -----------------------------------------------------------------------------------------
    def _callbacks(self, channel: str) -> list[Callable[[str], None]]:
        with self._lock:
            return list(self._subscribers.get(channel, ()))

    def _tell_everyone(self) -> None:
        with self._lock:
            everyone = [callback for callbacks in self._subscribers.values() for callback in callbacks]
        for callback in everyone:
            callback(EVERYTHING)

    def _listen(self, params: dict) -> None:
        delay = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(**{**params, **KEEPALIVE_PARAMS, "autocommit": True}) as conn:
                    self._resubscribe.clear()
                    self.backend_pid = conn.info.backend_pid
                    with self._lock:
                        channels = list(self._subscribers)
                    for channel in channels:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._live_channels = frozenset(channels)
                    self._tell_everyone()  # whatever happened while not listening
                    self._heard()
                    self._listening.set()
                    delay = 0.5
                    while not self._stop.is_set() and not self._resubscribe.is_set():
                        for notify in conn.notifies(timeout=HEARTBEAT_SECONDS):
                            for callback in self._callbacks(notify.channel):
                                callback(notify.payload or EVERYTHING)
                            self._heard()
                            if self._resubscribe.is_set():
                                break
                        silent_since = self._heard_at
                        conn.execute("SELECT 1")  # the heartbeat: raises on a broken connection
                        if self.clock() - silent_since >= max_silence_seconds():
                            # Caches stopped serving meanwhile; anything they hold may predate a lost change.
                            self._tell_everyone()
                        self._heard()
                if self._resubscribe.is_set() and not self._stop.is_set():
                    self._listening.clear()
                    self._live_channels = frozenset()
                    continue
            except Exception:  # noqa: BLE001 (any failure: stop caching, then reconnect)
                logger.warning("change listener lost its connection; caches paused", exc_info=True)
            self._listening.clear()
            self._live_channels = frozenset()
            self._tell_everyone()
            self._stop.wait(delay)
            delay = min(delay * 2, 10.0)


listener = NotificationListener()
