"""What needs a PostgreSQL session of its own when the panel's connections go through a pooler in transaction mode.

Through PgBouncer in transaction mode (Supabase's pooler, ``DATABASE_POOLED=1``) each transaction of a Django
connection may run on a different server session, so a session advisory lock taken there would stay on a server
session that other clients then use, and a LISTEN would hear nothing. Both therefore use a direct connection
(``DATABASE_DIRECT_URL``, see `direct_connection_params`):

- the change listener (:mod:`adminpanel.pg_notify`) connects with it;
- session advisory locks (`try_lock`, `unlock`, `holding`, `held_elsewhere`) are taken on a direct connection
  that this thread opens when it takes its first lock and closes once it holds none (so it does not idle beside
  the pool). PostgreSQL still releases them when the holder's connection dies, however the process died.

Unpooled, nothing changes: the locks are taken on Django's own connection, and the listener connects like it.
Work that fits in one transaction takes ``pg_advisory_xact_lock`` instead, which a pooler keeps on its session.
"""

import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from adminpanel.config import database_from_url

_local = threading.local()
# Connections a forked child inherited from its parent: never closed by the child (closing would end the parent's
# session and its locks), only forgotten.
_inherited: list = []


def direct_connection_params() -> dict:
    """``psycopg.connect`` arguments for a session of its own: Django's own connection parameters with the server,
    database, role and URL options of ``DATABASE_DIRECT_URL`` when it is set (as Django's when it is not)."""
    params = connection.get_connection_params()
    url = getattr(settings, "DATABASE_DIRECT_URL", "")
    if not url:
        return params
    direct = database_from_url(url)
    for key in ("host", "port", "user", "password"):
        params.pop(key, None)
    params.update(direct["OPTIONS"])
    params["dbname"] = direct["NAME"]
    for key, name in (("host", "HOST"), ("port", "PORT"), ("user", "USER"), ("password", "PASSWORD")):
        if direct.get(name):
            params[key] = str(direct[name])
    return params


def _pooled() -> bool:
    return bool(getattr(settings, "DATABASE_POOLED", False))


def _state():
    if getattr(_local, "pid", None) != os.getpid():
        if getattr(_local, "conn", None) is not None:
            _inherited.append(_local.conn)
        _local.pid, _local.conn, _local.held = os.getpid(), None, Counter()
    return _local


@contextmanager
def _cursor():
    """A cursor on the session that holds this thread's session advisory locks."""
    if not _pooled():
        with connection.cursor() as cursor:
            yield cursor
        return
    if not getattr(settings, "DATABASE_DIRECT_URL", ""):
        raise ImproperlyConfigured("DATABASE_POOLED=1 needs DATABASE_DIRECT_URL for session advisory locks")
    state = _state()
    with connection.wrap_database_errors:  # psycopg's errors as Django's, as callers expect
        try:
            if state.conn is None or state.conn.closed:
                state.held.clear()  # a lost connection took its locks with it
                state.conn = psycopg.connect(**direct_connection_params(), autocommit=True)
            with state.conn.cursor() as cursor:
                yield cursor
        except psycopg.OperationalError:
            _forget()
            raise


def _forget() -> None:
    state = _state()
    conn, state.conn = state.conn, None
    state.held.clear()
    if conn is not None:
        conn.close()


def _function(name: str, shared: bool) -> str:
    return f"pg_{name}_shared" if shared else f"pg_{name}"


def try_lock(*key: int, shared: bool = False) -> bool:
    """``pg_try_advisory_lock[_shared](key)`` on this thread's lock session: whether it was granted."""
    with _cursor() as cursor:
        cursor.execute(f"SELECT {_function('try_advisory_lock', shared)}({', '.join(['%s'] * len(key))})", list(key))
        granted = bool(cursor.fetchone()[0])
    if granted and _pooled():
        _state().held[(shared, key)] += 1
    return granted


def unlock(*key: int, shared: bool = False) -> bool:
    """``pg_advisory_unlock[_shared](key)`` on this thread's lock session; the pooled lock session is closed once
    it holds no lock. Whether the lock was held."""
    if _pooled() and not _state().held[(shared, key)]:
        return False  # never taken here, or lost with its connection (nothing to open one for)
    with _cursor() as cursor:
        cursor.execute(f"SELECT {_function('advisory_unlock', shared)}({', '.join(['%s'] * len(key))})", list(key))
        released = bool(cursor.fetchone()[0])
    if _pooled():
        state = _state()
        state.held[(shared, key)] -= 1
        if state.held[(shared, key)] <= 0:
            del state.held[(shared, key)]
        if not state.held:
            _forget()
    return released


@contextmanager
def holding(*key: int) -> Iterator[bool]:
    """Try the session lock `key` for the block: yields whether it was granted, and releases it afterwards."""
    granted = try_lock(*key)
    try:
        yield granted
    finally:
        if granted:
            unlock(*key)


def held_elsewhere(*key: int) -> bool:
    """Whether another session holds the lock `key` right now (probed, then released at once)."""
    with holding(*key) as granted:
        return not granted


def close() -> None:
    """Close this thread's pooled lock session, releasing what it holds (tests, before their database is dropped)."""
    _forget()
