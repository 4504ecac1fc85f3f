"""What the benches that run the panel's own settings share (imported as ``benchdb``: a script's folder is on
``sys.path``): a database of their own, created on first use, and what a fresh clone lacks to start the panel."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def create_database_if_missing(url: str) -> None:
    """CREATE DATABASE for the URL's database name, connecting to the same server's `postgres` database."""
    import psycopg
    from psycopg import sql

    sys.path.insert(0, str(ROOT))
    from adminpanel.config import database_from_url

    settings = database_from_url(url)
    params = {
        "dbname": "postgres",
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
        **{k: v for k, v in (settings.get("OPTIONS") or {}).items() if isinstance(v, str | int)},
    }
    params = {k: v for k, v in params.items() if v is not None}
    with psycopg.connect(**params, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [settings["NAME"]]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(settings["NAME"])))


def bench_database_url(name: str) -> str:
    """DATABASE_URL if set, else database ``name`` on the local cluster (``BARTENDER_PG_PORT``, 25432 by default)."""
    port = os.environ.get("BARTENDER_PG_PORT", "25432")
    return os.environ.get("DATABASE_URL") or f"postgresql://bartender@127.0.0.1:{port}/{name}"


def use_bench_database(name: str) -> str:
    """Point ``DATABASE_URL`` at the bench database (:func:`bench_database_url`), created if missing, and put the
    project on ``sys.path``; returns the URL."""
    sys.path.insert(0, str(ROOT))
    url = bench_database_url(name)
    create_database_if_missing(url)
    os.environ["DATABASE_URL"] = url
    return url


def panel_environment(*, log_level: str | None = "WARNING") -> None:
    """The panel's settings, with only warnings logged unless told otherwise (a bench prints its figures), and the
    local secret key kept in the ignored ``.var/`` (the panel refuses to start with DEBUG off and no SECRET_KEY)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if log_level:
        os.environ.setdefault("LOG_LEVEL", log_level)
    from adminpanel.config import local_secret_key

    os.environ.setdefault("SECRET_KEY", local_secret_key(ROOT / ".var"))
