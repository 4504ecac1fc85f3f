"""What needs a database session of its own (DESIGN §1, connection poolers).

Supabase serves most clients through a pooler in transaction mode (PgBouncer): one transaction at a time on
whichever server connection is free, so nothing that outlives a transaction may live on the panel's main
connection there. Two things do: LISTEN (the flag and token caches, ``adminpanel.pg_notify``) and session advisory
locks (one health run at a time, one incident-clock tick, the backfill's ranges). With ``DATABASE_DIRECT_URL`` set
(``DATABASE_URL`` then names the pooler and ``DATABASE_POOLED=1``), both use direct connections of their own: the
listener's thread, and one connection per thread for session locks, so a lock is released on the connection that
took it, and by PostgreSQL when the process dies. Without it they use the panel's own connection settings, as
before. Transaction-level locks (``pg_advisory_xact_lock``: the mapping lock, the autopilot's tick) need nothing
of this: they end with their transaction, which the pooler keeps on one server connection.

Every advisory lock of the panel goes through this module: ``try_lock`` / ``unlock`` / ``is_free`` / ``held`` for
session locks, ``xact_lock`` / ``try_xact_lock`` for transaction-level ones.
"""

import contextlib
import threading

import psycopg
from django.conf import settings
from django.db import connection

from adminpanel.config import database_from_url

_local = threading.local()


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


def _lock_connection():
    """The connection session locks live on: this thread's direct connection when the main one is pooled, else
    the panel's own (Django's) connection."""
    if not settings.DATABASE_DIRECT_URL:
        return connection
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed or conn.broken:
        conn = psycopg.connect(**{**direct_connection_params(), "autocommit": True})
        _local.conn = conn
    return conn


def _call(function: str, key: int, obj: int | None) -> bool:
    args = [key] if obj is None else [key, obj]
    placeholders = ", ".join(["%s"] * len(args))
    with _lock_connection().cursor() as cursor:
        cursor.execute(f"SELECT {function}({placeholders})", args)
        return bool(cursor.fetchone()[0])


def try_lock(key: int, obj: int | None = None, *, shared: bool = False) -> bool:
    """Take a session advisory lock without waiting (a shared one with `shared`); whether it was taken."""
    return _call("pg_try_advisory_lock_shared" if shared else "pg_try_advisory_lock", key, obj)


def unlock(key: int, obj: int | None = None, *, shared: bool = False) -> bool:
    """Release a session advisory lock this thread holds; whether it was held."""
    return _call("pg_advisory_unlock_shared" if shared else "pg_advisory_unlock", key, obj)


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
    """Close this thread's lock connection (tests; a process exit closes it anyway)."""
    conn = getattr(_local, "conn", None)
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()
        _local.conn = None
