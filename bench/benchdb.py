"""What the benches that run the panel's own settings share (imported as ``benchdb``: a script's folder is on
``sys.path``): a database of their own on the local cluster, and what a fresh clone lacks to start the panel."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def use_bench_database(name: str) -> None:
    """Point ``DATABASE_URL`` at database ``name`` on the local cluster (``BARTENDER_PG_PORT``, 25432 by default),
    created if missing; a ``DATABASE_URL`` already set wins. Puts the project on ``sys.path``."""
    sys.path.insert(0, str(ROOT))
    if os.environ.get("DATABASE_URL"):
        return
    import psycopg

    port = os.environ.get("BARTENDER_PG_PORT", "25432")
    with psycopg.connect(f"postgresql://bartender@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = f"postgresql://bartender@127.0.0.1:{port}/{name}"


def panel_environment(*, log_level: str = "WARNING") -> None:
    """The panel's settings with only warnings logged (a bench prints its figures), and the local secret key kept in
    the ignored ``.var/`` (the panel refuses to start with DEBUG off and no SECRET_KEY)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminpanel.settings")
    os.environ.setdefault("LOG_LEVEL", log_level)
    from adminpanel.config import local_secret_key

    os.environ.setdefault("SECRET_KEY", local_secret_key(ROOT / ".var"))
