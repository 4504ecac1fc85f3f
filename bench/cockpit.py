"""Bench: the runbook cockpit (the home page of product owners and support) at 10,000 bars and 5,000,000 sales.

    .venv/bin/python bench/cockpit.py [--bars 10000] [--sales 5000000] [--rounds 30]

Uses its own database `bartender_bench_cockpit` (created, migrated and seeded with seed_demo on first use; the dev
database is never touched; set DATABASE_URL to use another), then puts every phase in a state that makes the
cockpit show all it can: Phase 1 runs (passed, a waiver, a running one with progress), a finished backfill over
every bar, a passing validation with its nine lines, a running Phase 3 window, a fresh health run. Those rows are
written directly (a real backfill of 5M sales takes minutes and changes nothing the cockpit reads: it reads the
latest rows, never the sales). Then it renders, as a product owner through Django's test client (the whole
request: session, permissions, template), the home page and the cockpit partial that polls, and prints the
median and p95 wall time and the number of queries, against the 300 ms target.
"""

import argparse
import statistics
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "bartender_bench_cockpit"


def use_bench_database() -> None:
    from benchdb import panel_environment, use_bench_database

    use_bench_database(BENCH_DB)
    panel_environment()
    import django

    django.setup()
    from django.core.management import call_command

    # Pages name their static files through the manifest, as in production: build it (a fresh clone has none).
    call_command("collectstatic", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0, interactive=False)
    call_command("standin", "--phase2", verbosity=0)  # the stand-in BarTender, after Phase 2


def seed(bars: int, sales: int) -> None:
    from adminpanel.models import Bar
    from demo.seeding import seed_demo

    if Bar.objects.count() < bars:
        started = time.perf_counter()
        report = seed_demo(bars=bars, sales=sales)
        seconds = time.perf_counter() - started
        print(f"seeded {report.bars_created} bars, {report.sales_created} sales in {seconds:.0f} s")


def runbook_state(owner) -> None:
    """Every phase in a state the cockpit shows in full (idempotent)."""
    from django.utils import timezone

    from backfill.models import BackfillRun, ValidationCheck, ValidationRun
    from monitoring.models import CheckStatus, HealthRun, PhaseWindow
    from rollout.models import RunbookRun, RunbookStep

    now = timezone.now()
    if not RunbookRun.objects.exists():
        for step in (RunbookStep.LOAD_TEST, RunbookStep.ROLLBACK_REHEARSAL, RunbookStep.FLAGS_OFF):
            RunbookRun.objects.create(step=step, status="passed", requested_by=owner, requested_by_name=owner.username,
                                      created_at=now, finished_at=now, summary="bench: passed")  # fmt: skip
        RunbookRun.objects.create(step=RunbookStep.TEST_SUITE, status="waived", requested_by=owner, reason="bench",
                                  requested_by_name=owner.username, finished_at=now,
                                  summary="Waived: bench")  # fmt: skip
        RunbookRun.objects.create(step=RunbookStep.BACKUP, status="running", requested_by=owner, started_at=now,
                                  heartbeat_at=now, progress=42, progress_note="dumping table sales (40 of 44)",
                                  requested_by_name=owner.username)  # fmt: skip
        BackfillRun.objects.create(status="finished", phase="done", configured_batch_size=5000, batch_size=5000,
                                   rows_total=4_500_000, rows_done=4_500_000, resolved_directly=4_300_000,
                                   resolved_by_fallback=120_000, unresolved=80_000, finished_at=now)  # fmt: skip
        validation = ValidationRun.objects.create(started_at=now + timedelta(seconds=1), passed=True)
        for position in range(1, 10):
            ValidationCheck.objects.create(run=validation, position=position, key=f"check{position}", section="2.2",
                                           label=f"check {position}", passed=True, value="ok", expected="ok",
                                           sql="SELECT 1")  # fmt: skip
        PhaseWindow.objects.create(kind="phase3", started_by=owner, started_at=now, ends_at=now + timedelta(minutes=15))
    HealthRun.objects.create(started_at=timezone.now(), finished_at=timezone.now(), status=CheckStatus.OK)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=10_000)
    parser.add_argument("--sales", type=int, default=5_000_000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    use_bench_database()
    seed(args.bars, args.sales)

    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from adminpanel.models import Bar, User
    from demo.deployment import ensure_demo_logins

    setup_test_environment()
    ensure_demo_logins(password="bench-password")
    owner = User.objects.get(username="product")
    runbook_state(owner)
    client = Client()
    client.force_login(owner)
    with connection.cursor() as cursor:
        cursor.execute("SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE relname = 'sales'")
        sales = cursor.fetchone()[0]
    print(f"data: {Bar.objects.count()} bars, ~{sales} sales (pg_class estimate); {args.rounds} rounds, 3 warm-ups")
    # Login → home as a person meets it: the login POST (password check, axes, session) then the first home page,
    # and the password check alone, so the two costs can be told apart.
    from django.contrib.auth.hashers import check_password

    for _ in range(3):
        fresh = Client()
        started = time.perf_counter()
        assert fresh.post("/accounts/login/", {"username": "product", "password": "bench-password"}).status_code == 302
        login_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        assert fresh.get("/").status_code == 200
        first_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        check_password("bench-password", owner.password)
        hash_ms = (time.perf_counter() - started) * 1000
        print(f"  login POST {login_ms:6.1f} ms (of which the password check alone {hash_ms:6.1f} ms), "
              f"then the first home page {first_ms:6.1f} ms")  # fmt: skip
    for name, url in (("home page (cockpit + role sections)", "/"), ("cockpit partial (the 5 s poll)", "/cockpit/")):
        for _ in range(3):
            assert client.get(url).status_code == 200
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        p95 = statistics.quantiles(times, n=20)[18]
        print(f"  {name:38} median {statistics.median(times):6.1f} ms, p95 {p95:6.1f} ms, "
              f"{len(queries)} queries (target < 300 ms)")  # fmt: skip


if __name__ == "__main__":
    main()
