"""One PostgreSQL LISTEN connection per process, for caches that must drop what changed the moment a change
commits, whichever process or client made it (the flag API's flag cache, the API token cache).

A cache subscribes a callback to a channel; database triggers ``pg_notify`` that channel on commit. The listener
runs in a daemon thread with its own connection. When it (re)connects, and when it loses its connection, every
callback is called with `EVERYTHING`, since notifications sent meanwhile are lost; and a cache must keep nothing
while `listening()` is false, so a lost connection can never serve a stale answer.

It lives in the bottom layer so that any app can use it (rollout's flag cache, adminpanel's token cache) without
an import against the arrow.
"""

import logging
import threading
from collections.abc import Callable

import psycopg
from django.db import connection
from psycopg import sql

logger = logging.getLogger(__name__)

EVERYTHING = "*"


class NotificationListener:
    def __init__(self):
        self._subscribers: dict[str, list[Callable[[str], None]]] = {}
        self._lock = threading.Lock()
        self._listening = threading.Event()
        self._stop = threading.Event()
        self._resubscribe = threading.Event()
        self._thread: threading.Thread | None = None
        self._live_channels: frozenset[str] = frozenset()

    def subscribe(self, channel: str, callback: Callable[[str], None]) -> None:
        """Call `callback(payload)` for each notification on `channel` (payload `EVERYTHING` after any gap)."""
        with self._lock:
            callbacks = self._subscribers.setdefault(channel, [])
            if callback not in callbacks:
                callbacks.append(callback)
        self._resubscribe.set()  # a running listener reconnects to LISTEN on the new channel too

    def listening(self) -> bool:
        """Whether notifications are arriving right now (caches keep nothing otherwise)."""
        return self._listening.is_set()

    def listening_to(self, channel: str) -> bool:
        """Whether the live connection has LISTENed on `channel` (a later subscription reconnects first)."""
        return self._listening.is_set() and channel in self._live_channels

    def ensure_started(self) -> None:
        """Start the listener thread of this process if it is not running (after a fork, for instance)."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                params = connection.get_connection_params()
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
                with psycopg.connect(**{**params, "autocommit": True}) as conn:
                    self._resubscribe.clear()
                    with self._lock:
                        channels = list(self._subscribers)
                    for channel in channels:
                        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._live_channels = frozenset(channels)
                    self._tell_everyone()  # whatever happened while not listening
                    self._listening.set()
                    delay = 0.5
                    while not self._stop.is_set() and not self._resubscribe.is_set():
                        for notify in conn.notifies(timeout=1.0):
                            for callback in self._callbacks(notify.channel):
                                callback(notify.payload or EVERYTHING)
                            if self._resubscribe.is_set():
                                break
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
