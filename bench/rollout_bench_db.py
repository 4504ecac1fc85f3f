"""Shared set-up of the rollout benches: a bench database (default `bartender_bench_rollout`) seeded with N bars.

Imported by bench/rollout_advance.py and the flag API benches before Django is set up; the dev database is never
touched. With DATABASE_URL set, that database is used, and created first if it does not exist yet (a fresh clone
has none). Nothing is printed on stdout (the shell benches read their figures from it): the seeding note goes to
stderr.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "bartender_bench_rollout"


def bench_database_url() -> str:
    """DATABASE_URL if set, else the bench database on the local cluster (BARTENDER_PG_PORT)."""
    port = os.environ.get("BARTENDER_PG_PORT", "25432")
    return os.environ.get("DATABASE_URL") or f"postgresql://bartender@127.0.0.1:{port}/{BENCH_DB}"


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


def use_bench_database(*, bars: int) -> str:
    """Create (if needed), migrate and seed the bench database, leave Django set up on it; return its URL
    (also exported as DATABASE_URL, so servers started from here use it)."""
    sys.path.insert(0, str(ROOT))
    url = bench_database_url()
    create_database_if_missing(url)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminpanel.settings")
    # The panel refuses to start with DEBUG off and no SECRET_KEY: the local key kept in the ignored .var/.
    from adminpanel.config import local_secret_key

    os.environ.setdefault("SECRET_KEY", local_secret_key(ROOT / ".var"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from adminpanel.models import Bar
    from adminpanel.seeding import seed_demo

    if Bar.objects.count() < bars:
        report = seed_demo(bars=bars, sales=0)
        print(f"seeded {report.bars_created} bars in {report.seconds}s", file=sys.stderr)
    return url
