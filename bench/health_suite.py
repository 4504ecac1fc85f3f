"""Bench: the whole health-check suite against the runbook's own SQL run raw in psql, at 5M and at 20M sales.

    .venv/bin/python bench/health_suite.py [--sizes 5000000,20000000] [--passes 3]
        [--rounds 5] [--per-check]
    .venv/bin/python bench/health_suite.py --insert-cost 5000000 [--seconds 20] [--pairs 3]

Each size has its own database `bench_health_<size>` on the local PostgreSQL (created, migrated and seeded on
first use, reused afterwards; the dev database is never touched; seeding 20M sales takes about an hour on 2 cores):
DESIGN.md section 8's data, 10k bars (``seed_demo``: sales spread over 30 days, so the last 24 hours hold 1/30 of
them, and 20M sales are four times the traffic of 5M), half the bars in simplified mode, 100k mappings and 1M
backfill log rows; before measuring, the time since the seed is filled with traffic at the seed's own rate, so the
5-minute and 1-hour windows hold what a live system's would. Each size runs in a child process (one Django
connection per database) and the sizes take turns `passes` times, so both meet the same machine load. A round
times our suite (``health_checks.run_checks``) and the runbook's "Health Check Queries" and Day 1
"Post-Deployment" queries 1-2 raw in psql (``\\timing``, the server's time per statement summed); printed: the
medians of suite ms and raw ms and their ratio per size, then suite at 20M / suite at 5M. Day 1 queries 3-4 are
left out: 3 needs a session user (RLS does not apply to the owner) and 4 is a correlated subquery over every sale
of the day.

``--insert-cost`` runs the Phase 1 load test (``rollout.load_test``: 100 sales/s as a non-owner role under RLS)
on that size's database, alternately without the rollup's triggers on sales and with them, and prints the insert
p50/p95 of both sides and their ratio.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARS, MAPPINGS, LOG_ROWS = 10_000, 100_000, 1_000_000


def bench_database(size: int) -> str:
    return f"bench_health_{size}"


def use_database(name: str) -> None:
    """Create the database if missing, point Django at it, set Django up and migrate."""
    from benchdb import panel_environment, use_bench_database

    os.environ.pop("DATABASE_URL", None)  # each size has its own database, whatever the caller's
    use_bench_database(name)
    panel_environment(log_level=os.environ.get("LOG_LEVEL", "INFO"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)

    call_command("standin", "--phase2", verbosity=0)  # the stand-in BarTender, after Phase 2


# Extra mappings up to MAPPINGS: a nickname per server ("<name> 2", "<name> 3", ...) in its own bar.
SQL_EXTRA_MAPPINGS = """
INSERT INTO server_name_mappings (bar_id, server_name, normalized_name, user_id,
                                  created_at, updated_at)
SELECT m.bar_id, m.server_name || ' ' || n, m.normalized_name || ' ' || n, m.user_id,
       m.created_at, m.updated_at
FROM (SELECT * FROM server_name_mappings ORDER BY id LIMIT %(base)s) AS m, generate_series(2, 4) AS n
ORDER BY n, m.id
LIMIT %(missing)s
ON CONFLICT DO NOTHING
"""

# One backfill log row per old sale (the backfill's own log), 12 % with a fallback, a few of them failed.
SQL_LOG_ROWS = """
INSERT INTO migration_server_id_log (sale_id, server_name, resolved_server_id, fallback_used, fallback_reason,
                                     created_at, bar_id)
SELECT s.id, s.server_name, s.created_by, s.id %% 100 < 12,
       CASE WHEN s.id %% 100 < 11 THEN 'created_by fallback'
            WHEN s.id %% 100 = 11 THEN 'resolution failed: unknown name' END,
       now() - interval '2 days', s.bar_id
FROM sales s
WHERE NOT EXISTS (SELECT 1 FROM migration_server_id_log l WHERE l.sale_id = s.id)
ORDER BY s.id
LIMIT %(missing)s
"""


SQL_TOP_UP = """
INSERT INTO sales (bar_id, server_id, created_by, server_name, amount, created_at)
SELECT bar_id, server_id, created_by, server_name, amount, created_at + %(gap)s
FROM sales WHERE created_at > (SELECT max(created_at) FROM sales) - %(gap)s
"""


def seed(size: int) -> None:
    from django.db import connection

    from demo.seeding import seed_demo

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bars")
        if cursor.fetchone()[0] < BARS:
            started = time.perf_counter()
            report = seed_demo(bars=BARS, sales=size)
            print(f"seeded {report.sales_created:,} sales in {time.perf_counter() - started:.0f} s", file=sys.stderr)
        # Mid-rollout (stage 4c): half the bars in simplified mode, so the per-mode checks join real bars.
        cursor.execute("SELECT count(*) FROM bars WHERE settings->>'operatingMode' = 'simplified'")
        if not cursor.fetchone()[0]:
            cursor.execute(
                'UPDATE bars SET settings = settings || \'{"operatingMode": "simplified"}\' '
                "WHERE NOT is_internal AND id::text < '8'"
            )
            cursor.execute("ANALYZE bars")
        cursor.execute("SELECT count(*) FROM server_name_mappings")
        have = cursor.fetchone()[0]
        if have < MAPPINGS:
            cursor.execute(SQL_EXTRA_MAPPINGS, {"base": have, "missing": MAPPINGS - have})
        cursor.execute("SELECT count(*) FROM migration_server_id_log")
        have = cursor.fetchone()[0]
        if have < LOG_ROWS:
            cursor.execute(SQL_LOG_ROWS, {"missing": LOG_ROWS - have})
            cursor.execute("VACUUM ANALYZE")
        # Traffic since the seed, at the seed's own rate: the gap up to now is filled with a copy of the sales just
        # before it, shifted by the gap, so the 5-minute and 1-hour windows hold what they would on a live system.
        cursor.execute("SELECT LEAST(now() - max(created_at), interval '2 days') FROM sales")
        gap = cursor.fetchone()[0]
        if gap and gap.total_seconds() > 60:
            cursor.execute(SQL_TOP_UP, {"gap": gap})
        # What a health run does first (fold the inserts' log into the rollup) and what autovacuum would have done
        # after the top-up and earlier load tests (their scratch sales deleted): the same steady state for every run
        # and both sizes.
        from monitoring.health.sales_window import compact_sales_rollup

        compact_sales_rollup()
        cursor.execute("VACUUM (ANALYZE) sales, sales_minute_rollup, sales_minute_rollup_log")


def runbook_script(server_id: str) -> str:
    from adminpanel import runbook_sql

    health_queries = [
        runbook_sql.HEALTH_ADOPTION_RATE,
        runbook_sql.HEALTH_COVERAGE_24H,
        "EXPLAIN ANALYZE " + runbook_sql.HEALTH_SERVER_ID_INDEX.replace("%s", f"'{server_id}'"),
        runbook_sql.HEALTH_ERRORS_LAST_5_MIN,
    ]
    post_deployment = [runbook_sql.DAY1_COVERAGE, runbook_sql.DAY1_ORPHANED]
    return "\\timing on\n" + "".join(q.strip() + ";\n" for q in health_queries + post_deployment)


def psql_ms(script: str) -> float:
    from django.db import connection

    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    args = ["psql", "-X", "-q", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], "-d", db["NAME"]]
    out = subprocess.run(args, input=script, capture_output=True, text=True, env=env, check=True).stdout  # noqa: S603
    return sum(float(ms) for ms in re.findall(r"^Time: ([\d.]+) ms", out, flags=re.M))


def measure(size: int, rounds: int) -> dict:
    """In the child: prepare the size's database, then the medians of `rounds` rounds."""
    use_database(bench_database(size))
    seed(size)
    from django.db import connection

    from monitoring.health import health_checks

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sales")
        sales = cursor.fetchone()[0]
        cursor.execute("SELECT server_id FROM sales WHERE server_id IS NOT NULL LIMIT 1")
        server_id = str((cursor.fetchone() or ["00000000-0000-0000-0000-000000000000"])[0])
    script = runbook_script(server_id)
    health_checks.run_checks()  # warm the cache as the every-5-minutes task has it
    psql_ms(script)
    suite, raw, per_check = [], [], {}
    for _ in range(rounds):
        started = time.perf_counter()
        outcomes = health_checks.run_checks()
        suite.append((time.perf_counter() - started) * 1000)
        for o in outcomes:
            per_check.setdefault(o.name, []).append(o.duration_ms)
        raw.append(psql_ms(script))
    return {"size": size, "sales": sales, "suite_ms": suite, "raw_ms": raw, "per_check_ms": per_check}


ROLLUP_TRIGGERS = ("sales_minute_rollup_insert", "sales_minute_rollup_update", "sales_minute_rollup_delete")


def set_rollup_triggers(enabled: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for trigger in ROLLUP_TRIGGERS:
            cursor.execute(f"ALTER TABLE sales {'ENABLE' if enabled else 'DISABLE'} TRIGGER {trigger}")


def insert_cost(size: int, seconds: int, pairs: int) -> dict:
    """In the child: the Phase 1 load test (rollout.load_test, 100 sales/s under RLS) on the size's database,
    alternately without the rollup's triggers and with them, `pairs` times each; every insert latency pooled per
    side. The scratch bar's sales are inserted and deleted in the same state, so the rollup stays exact."""
    use_database(bench_database(size))
    seed(size)
    from rollout.runbook.load_test import run_load_test

    samples = {False: [], True: []}
    try:
        set_rollup_triggers(True)
        run_load_test(rate=100, seconds=2, progress=lambda *_: None)  # warm-up
        for _ in range(pairs):
            for enabled in (False, True):
                set_rollup_triggers(enabled)
                result = run_load_test(rate=100, seconds=seconds, progress=lambda *_: None)
                assert result.errors == 0, result.first_error
                samples[enabled].append(result)
    finally:
        set_rollup_triggers(True)

    def summary(results):
        inserts = sum(r.inserts for r in results)
        return {
            "inserts": inserts,
            "rate": statistics.mean(r.achieved_rate for r in results),
            "p50_ms": statistics.median(r.insert_ms["p50"] for r in results),
            "p95_ms": statistics.median(r.insert_ms["p95"] for r in results),
        }

    return {"size": size, "without": summary(samples[False]), "with": summary(samples[True])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5, help="rounds per child run")
    parser.add_argument("--passes", type=int, default=3, help="child runs per size, the sizes taking turns")
    parser.add_argument("--sizes", default="5000000,20000000")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--per-check", action="store_true", help="also print each check's median ms")
    parser.add_argument("--insert-cost", type=int, metavar="SIZE", help="instead: the load test without/with "
                        "the rollup's triggers on the SIZE database")  # fmt: skip
    parser.add_argument("--seconds", type=int, default=20, help="length of each load test (--insert-cost)")
    parser.add_argument("--pairs", type=int, default=3, help="load tests per side (--insert-cost)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.rounds)))
        return
    if args.insert_cost:
        r = insert_cost(args.insert_cost, args.seconds, args.pairs)
        print(f"Phase 1 load test, 100 sales/s under RLS, {args.pairs} x {args.seconds} s per side, "
              f"{r['size']:,}-sale database")  # fmt: skip
        for side in ("without", "with"):
            f = r[side]
            print(f"  {side:7} rollup triggers: {f['inserts']:,} inserts at {f['rate']:.1f}/s, insert p50 "
                  f"{f['p50_ms']:.2f} ms, p95 {f['p95_ms']:.2f} ms")  # fmt: skip
        print(f"  insert p50 with / without: {r['with']['p50_ms'] / r['without']['p50_ms']:.3f}x, "
              f"p95: {r['with']['p95_ms'] / r['without']['p95_ms']:.3f}x")  # fmt: skip
        return
    # The sizes take turns, `passes` times, so both meet the same machine load; medians over every round.
    sizes = [int(s) for s in args.sizes.split(",")]
    results = {size: {"suite_ms": [], "raw_ms": [], "per_check_ms": {}} for size in sizes}
    for _ in range(args.passes):
        for size in sizes:
            out = subprocess.run(  # noqa: S603
                [sys.executable, __file__, "--child", str(size), "--rounds", str(args.rounds)],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            child = json.loads(out.strip().splitlines()[-1])
            results[size]["sales"] = child["sales"]
            results[size]["suite_ms"] += child["suite_ms"]
            results[size]["raw_ms"] += child["raw_ms"]
            for name, times in child["per_check_ms"].items():
                results[size]["per_check_ms"].setdefault(name, []).extend(times)
    print(
        f"median of {args.passes} x {args.rounds} rounds per size; {BARS:,} bars (half in simplified mode), "
        f"{MAPPINGS:,} mappings, {LOG_ROWS:,} backfill log rows"
    )
    suite = {}
    for size in sizes:
        r = results[size]
        suite[size], raw = statistics.median(r["suite_ms"]), statistics.median(r["raw_ms"])
        ratio = suite[size] / raw
        print(f"{r['sales']:>11,} sales: suite {suite[size]:7.1f} ms, runbook raw {raw:7.1f} ms, ratio {ratio:.3f}")
        if args.per_check:
            for name, times in r["per_check_ms"].items():
                print(f"    {name:24} {statistics.median(times):6.1f} ms")
    if len(sizes) == 2:
        small, large = sizes
        print(f"suite at {results[large]['sales']:,} / at {results[small]['sales']:,} sales: "
              f"{suite[large] / suite[small]:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
