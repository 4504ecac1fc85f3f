"""Shared set-up of the rollout benches: a bench database (default `bartender_bench_rollout`) seeded with N bars.

Imported by bench/rollout_advance.py and the flag API benches before Django is set up; the dev database is never
touched. With DATABASE_URL set, that database is used, and created first if it does not exist yet (a fresh clone
has none). Nothing is printed on stdout (the shell benches read their figures from it): the seeding note goes to
stderr.
"""

import sys

import benchdb

ROOT = benchdb.ROOT
BENCH_DB = "bartender_bench_rollout"


def use_bench_database(*, bars: int) -> str:
    """Create (if needed), migrate and seed the bench database, leave Django set up on it; return its URL
    (also exported as DATABASE_URL, so servers started from here use it)."""
    url = benchdb.use_bench_database(BENCH_DB)
    benchdb.panel_environment(log_level=None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    call_command("standin", "--phase2", verbosity=0)  # the stand-in BarTender, after Phase 2
    from adminpanel.models import Bar
    from demo.seeding import seed_demo

    if Bar.objects.count() < bars:
        report = seed_demo(bars=bars, sales=0)
        print(f"seeded {report.bars_created} bars in {report.seconds}s", file=sys.stderr)
    return url


def fleet_token(name: str) -> str:
    """A fresh token of an API client named ``name`` that may read every bar (any earlier one of that name is
    deleted first)."""
    from adminpanel.models import ApiClient

    ApiClient.objects.filter(name=name).delete()
    client = ApiClient(name=name, all_bars=True)
    token = client.issue_token()
    client.save()
    return token
