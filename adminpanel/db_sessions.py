"""What needs a database session of its own (DESIGN §1, connection poolers).

Supabase serves most clients through a pooler in transaction mode (PgBouncer): one transaction at a time on
whichever server connection is free, so nothing that outlives a transaction may live on the panel's main
connection there. Two things do: LISTEN (the flag and token caches, ``adminpanel.pg_notify``) and session advisory
locks (one health run at a time, one incident-clock tick, the backfill's ranges). With ``DATABASE_DIRECT_URL`` set
(``DATABASE_URL`` then names the pooler and ``DATABASE_POOLED=1``), both use direct connections of their own: the
listener's thread, and one connection per thread for session locks, so a lock is released on the connection that
took it, and by PostgreSQL when the process dies. That connection is open only while its thread holds a session
lock (closed with the last one), so web threads and pool processes keep no idle direct connection beside the
pool, and a forked process never uses one it inherited. Without it they use the panel's own connection settings,
as before. Transaction-level locks (``pg_advisory_xact_lock``: the mapping lock, the autopilot's tick) need nothing
of this: they end with their transaction, which the pooler keeps on one server connection.

Every advisory lock of the panel goes through this module: ``try_lock`` / ``unlock`` / ``is_free`` / ``held`` for
session locks, ``xact_lock`` / ``try_xact_lock`` for transaction-level ones.
"""

import contextlib
import os
import threading
from collections import Counter

import psycopg
from django.conf import settings
from django.db import connection

from adminpanel.config import database_from_url

_local = threading.local()
# Lock connections a forked process inherited from its parent: forgotten, never used or closed here (closing would
# end the parent's session and its locks).
_inherited: list = []


def direct_connection_params() -> dict:
    """psycopg connection arguments for a session of its own: ``DATABASE_DIRECT_URL`` when set, else the panel's
    own connection settings. The direct connection gets the panel's search_path at connect time (a pooler refuses
    that start-up option; a direct connection takes it)."""
    params = connection.get_connection_params()
    url = settings.DATABASE_DIRECT_URL
    if not url:
        return params
    direct = database_from_url(url)
    params = {key: value for key, value in params.items() if key not in ("dbname", "host", "port", "user", "password")}
    params.update(
        dbname=direct["NAME"], host=direct.get("HOST") or None, port=direct.get("PORT") or None,
        user=direct.get("USER") or None, password=direct.get("PASSWORD") or None,
        options=f"-c search_path={settings.PANEL_SCHEMA},public",
    )  # fmt: skip
    params.pop("prepare_threshold", None)  # a direct connection may prepare statements
    return {key: value for key, value in params.items() if value is not None}


def _state():
    """This thread's direct lock connection and the session locks it holds (none after a fork)."""
    if getattr(_local, "pid", None) != os.getpid():
        if getattr(_local, "conn", None) is not None:
            _inherited.append(_local.conn)
        _local.pid, _local.conn, _local.held = os.getpid(), None, Counter()
    return _local


@contextlib.contextmanager
def _lock_cursor():
    """A cursor on the connection session locks live on: this thread's direct connection when
    ``DATABASE_DIRECT_URL`` is set (opened on demand), else the panel's own (Django's) connection. psycopg's errors
    come out as Django's, as on the panel's connection; a lost direct connection took its locks with it."""
    if not settings.DATABASE_DIRECT_URL:
        with connection.cursor() as cursor:
            yield cursor
        return
    state = _state()
    with connection.wrap_database_errors:
        try:
            if state.conn is None or state.conn.closed or state.conn.broken:
                state.held.clear()
                state.conn = psycopg.connect(**{**direct_connection_params(), "autocommit": True})
            with state.conn.cursor() as cursor:
                yield cursor
        except psycopg.OperationalError:
            close()
            raise


def _call(function: str, key: int, obj: int | None) -> bool:
    args = [key] if obj is None else [key, obj]
    placeholders = ", ".join(["%s"] * len(args))
    with _lock_cursor() as cursor:
        cursor.execute(f"SELECT {function}({placeholders})", args)
        return bool(cursor.fetchone()[0])


def try_lock(key: int, obj: int | None = None, *, shared: bool = False) -> bool:
    """Take a session advisory lock without waiting (a shared one with `shared`); whether it was taken."""
    taken = _call("pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock", key, obj)
    if taken and settings.DATABASE_DIRECT_URL:
        _state().held[(shared, key, obj)] += 1
    return taken


def unlock(key: int, obj: int | None = None, *, shared: bool = False) -> bool:
    """Release a session advisory lock this thread holds; whether it was held. The direct connection is closed
    once its thread holds no lock."""
    if not settings.DATABASE_DIRECT_URL:
        return _call("pg_advisory_unlock_shared" if shared else "pg_advisory_unlock", key, obj)
    state = _state()
    if not state.held[(shared, key, obj)]:
        del state.held[(shared, key, obj)]
        return False  # not taken by this thread, or lost with its connection: no connection to open for it
    released = _call("pg_advisory_unlock_shared" if shared else "pg_advisory_unlock", key, obj)
    state.held[(shared, key, obj)] -= 1
    if not state.held[(shared, key, obj)]:
        del state.held[(shared, key, obj)]
    if not state.held:
        close()
    return released


def is_free(key: int, obj: int | None = None) -> bool:
    """Whether nobody holds the lock right now (probed: taken and released at once)."""
    if not try_lock(key, obj):
        return False
    unlock(key, obj)
    return True


@contextlib.contextmanager
def held(key: int, obj: int | None = None):
    """Try the lock for the block; yields whether it was taken, and releases it at the end when it was."""
    taken = try_lock(key, obj)
    try:
        yield taken
    finally:
        if taken:
            unlock(key, obj)


def xact_lock(name: str) -> None:
    """Wait for the transaction-level advisory lock named `name` (hashed); released when the caller's transaction
    ends. Pooler-safe: the pooler keeps a transaction on one server connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])


def try_xact_lock(key: int) -> bool:
    """Try the transaction-level advisory lock `key` without waiting; held until the caller's transaction ends."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [key])
        return bool(cursor.fetchone()[0])


def close() -> None:
    """Close this thread's lock connection, releasing whatever it holds (tests; unlocking the last lock does it)."""
    state = _state()
    conn, state.conn = state.conn, None
    state.held.clear()
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()
