"""Shared set-up of the rollout benches: a bench database `bartender_bench_rollout` seeded with N bars.

Imported by bench/rollout_advance.py and bench/flag_api_bench.py before Django is set up; the dev database is
never touched. Set DATABASE_URL to use another database.
"""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "bartender_bench_rollout"


def use_bench_database(*, bars: int) -> None:
    """Create (if needed), migrate and seed the bench database, then leave Django set up on it."""
    sys.path.insert(0, str(ROOT))
    if not os.environ.get("DATABASE_URL"):
        import psycopg

        port = os.environ.get("BARTENDER_PG_PORT", "25432")
        with psycopg.connect(f"postgresql://bartender@127.0.0.1:{port}/postgres", autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
            if not exists:
                conn.execute(f"CREATE DATABASE {BENCH_DB}")
        os.environ["DATABASE_URL"] = f"postgresql://bartender@127.0.0.1:{port}/{BENCH_DB}"
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
        print(f"seeded {report.bars_created} bars in {report.seconds}s")
