"""Bench: the incident pages at scale (DESIGN.md section 8: every page under 300 ms at 5M sales, bounded queries).

    .venv/bin/python bench/incidents_bench.py [--bars 10000] [--sales 5000000] [--hot-sales 200000] [--repeat 7]

In its own fresh database `bartender_bench_incidents` (dropped and recreated; the dev database is never touched):
seed_demo spreads `--sales` over 30 days on `--bars` bars, half the bars are switched to simplified mode, and the
last hour gets `--hot-sales` more sales (5 % without server_id, i.e. orphaned) and one error-level audit log per
100 of them. An incident that began an hour ago is then timed: its impact query, its page, the live partial, the
communication download, the root-cause page, the first and a deep key page of each RCA row list, the orphaned
sales CSV, one incident clock tick, and pulling the kill switch (which opens its incident in the same transaction).
Median and p95 over `--repeat` runs, with the page's query count.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DB = "bartender_bench_incidents"


def fresh_database(*, reuse: bool) -> bool:
    """Point Django at the bench database, dropped and created afresh unless `reuse`; True when it was kept."""
    sys.path.insert(0, str(ROOT))
    if os.environ.get("DATABASE_URL"):
        return reuse
    import psycopg

    port = os.environ.get("BARTENDER_PG_PORT", "25432")
    with psycopg.connect(f"postgresql://bartender@127.0.0.1:{port}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [BENCH_DB]).fetchone()
        if not (reuse and exists):
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    os.environ["DATABASE_URL"] = f"postgresql://bartender@127.0.0.1:{port}/{BENCH_DB}"
    return bool(reuse and exists)


def load(args) -> None:
    """seed_demo, half the bars switched, a busy last hour; then VACUUM ANALYZE as autovacuum would have done."""
    from django.db import connection

    from demo.seeding import seed_demo

    started = time.perf_counter()
    report = seed_demo(bars=args.bars, sales=args.sales, days=30)
    seconds = time.perf_counter() - started
    print(f"seed_demo: {report.bars_created} bars, {report.sales_created} sales in {seconds:.0f}s")
    with connection.cursor() as cursor:
        cursor.execute(
            'UPDATE bars SET settings = settings || \'{"operatingMode": "simplified"}\'::jsonb '
            "WHERE ('x' || substr(md5(id::text), 1, 8))::bit(32)::int % 2 = 0"
        )
        cursor.execute(
            """
            WITH pool AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM bars),
                 server AS (SELECT id FROM auth.users LIMIT 1)
            INSERT INTO sales (bar_id, server_id, amount, created_at)
            SELECT pool.ids[1 + (g * 7919) %% pool.n], CASE WHEN g %% 20 = 0 THEN NULL ELSE server.id END, 1000,
                   now() - (g %% 3600) * interval '1 second'
            FROM generate_series(1, %(hot)s) g, pool, server
            """,
            {"hot": args.hot_sales},
        )
        cursor.execute(
            """
            WITH pool AS (SELECT array_agg(id ORDER BY id) AS ids, count(*) AS n FROM bars)
            INSERT INTO audit_logs (bar_id, level, error_type, error_message, payload, created_at)
            SELECT pool.ids[1 + (g * 31) %% pool.n], 'error', 'server_id_resolution',
                   'server_id could not be resolved', '{}', now() - (g %% 3600) * interval '1 second'
            FROM generate_series(1, %(errors)s) g, pool
            """,
            {"errors": args.hot_sales // 100},
        )
    with connection.cursor() as cursor:
        for table in ("sales", "audit_logs", "bars"):
            cursor.execute(f"VACUUM ANALYZE {table}")


def timed(call, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=10_000)
    parser.add_argument("--sales", type=int, default=5_000_000)
    parser.add_argument("--hot-sales", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--reuse", action="store_true", help="time again on the data of the previous run")
    args = parser.parse_args()
    kept = fresh_database(reuse=args.reuse)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")  # the figures only, not every login line
    from adminpanel.config import local_secret_key  # noqa: E402

    # The panel refuses to start with DEBUG off and no SECRET_KEY: the local key kept in the ignored .var/.
    os.environ.setdefault("SECRET_KEY", local_secret_key(ROOT / ".var"))
    os.environ.setdefault("DEBUG", "0")
    import django

    django.setup()
    from django.core.management import call_command

    # Pages name their static files through the manifest, as in production: build it (a fresh clone has none).
    call_command("collectstatic", interactive=False, verbosity=0)
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment
    from django.utils import timezone

    from adminpanel.models import User
    from monitoring.incidents import escalation
    from monitoring.incidents import selectors as incident_selectors
    from monitoring.incidents import services as incidents
    from monitoring.models import Contact, ContactTier

    setup_test_environment()  # the test client's host name is allowed
    call_command("migrate", verbosity=0, interactive=False)
    call_command("standin", "--phase2", verbosity=0)  # the stand-in BarTender, after Phase 2
    if not kept:
        load(args)
    admin, _ = User.objects.get_or_create(username="bench-incidents", defaults={"is_superuser": True})
    tier = ContactTier.objects.order_by("position").first()
    Contact.objects.get_or_create(tier=tier, name="Bench on-call", defaults={"email": "oncall@example.com"})
    now = timezone.now()
    incident, _ = incidents.open_incident_for_event(
        trigger_key="bench:incident",
        source="kill_switch",
        issue="Bench incident",
        started_at=now - timezone.timedelta(hours=1),
    )
    if kept:  # the same window as the first run's, which its busy hour filled
        now = incident.opened_at
    impact = incident_selectors.measure_impact(start=incident.started_at, end=now)
    print(
        f"window: 1 h; {impact.bars_affected} bars affected ({impact.switched_bars} simplified, "
        f"{impact.bars_with_errors} with errors), {impact.sales_affected} orphaned sales, {impact.error_logs} errors"
    )

    client = Client()
    client.force_login(admin)
    pk = incident.pk

    rows = [("impact query", lambda: incident_selectors.measure_impact(start=incident.started_at, end=now), None)]
    pages = {
        "incident page": f"/incidents/{pk}/",
        "live partial (impact, actions, template)": f"/incidents/{pk}/live/",
        "communication as Markdown": f"/incidents/{pk}/communication.md",
        "incident list": "/incidents/",
        "root-cause page": f"/incidents/{pk}/root-cause/",
        "RCA errors rows, 1st page": f"/incidents/{pk}/root-cause/errors/",
        "RCA orphans rows, 1st page": f"/incidents/{pk}/root-cause/orphans/",
        "RCA orphans rows, 20th page": deep_page(client, f"/incidents/{pk}/root-cause/orphans/", 20),
        "home (cockpit, with incidents)": "/",
        "audit-log page (existing; for comparison)": "/logs/audit/",
    }
    for name, url in pages.items():
        rows.append((name, (lambda u=url: _ok(client.get(u))), url))
    loads = ", ".join(f"{load:.1f}" for load in os.getloadavg())
    print(f"machine load (1, 5, 15 min): {loads} on {os.cpu_count()} cores")
    print(f"\n{'what':45} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    for name, call, url in rows:
        median, p95 = timed(call, args.repeat)
        queries = ""
        if url:
            with CaptureQueriesContext(connection) as captured:
                call()
            queries = str(len(captured))
        print(f"{name:45} {median:10.1f} {p95:8.1f} {queries:>8}")

    started = time.perf_counter()
    response = client.get(f"/incidents/{pk}/root-cause/orphans.csv")
    lines = sum(chunk.count(b"\n") for chunk in response.streaming_content) - 1
    seconds = time.perf_counter() - started
    print(f"\norphaned-sales CSV: {lines} rows in {seconds:.2f}s ({lines / seconds:,.0f} rows/s)")
    started = time.perf_counter()
    tick = escalation.run_incident_clock()
    print(f"incident clock tick: {(time.perf_counter() - started) * 1000:.0f} ms (refreshed {tick.refreshed})")

    # The kill switch now opens its incident in its own transaction: what does that add to pulling it?
    from rollout.killswitch import services
    from rollout.models import FeatureFlag, ensure_default_flags

    ensure_default_flags()
    pulls = []
    for _ in range(args.repeat):
        FeatureFlag.objects.update(kill_switch_engaged=False)
        started = time.perf_counter()
        assert services.pull_kill_switch(actor=admin, reason="bench")
        pulls.append((time.perf_counter() - started) * 1000)
    print(f"kill switch with its incident: median {statistics.median(pulls):.1f} ms, max {max(pulls):.1f} ms")
    print(f"machine load (1, 5, 15 min): {', '.join(f'{load:.1f}' for load in os.getloadavg())}")


def _ok(response):
    assert response.status_code == 200, response.status_code
    if hasattr(response, "streaming_content"):
        b"".join(response.streaming_content)
    return response


def deep_page(client, url: str, number: int) -> str:
    """The URL of the `number`th key page of a row list (walked once, before the timing)."""
    current = url
    for _ in range(number - 1):
        page = client.get(current).context["page"]
        if not page.next_cursor:
            break
        current = f"{url}?after={page.next_cursor}"
    return current


if __name__ == "__main__":
    main()
