"""Bench: the whole health-check suite against the runbook's own SQL run raw in psql, on the same database.

    DATABASE_URL=postgresql://bartender@127.0.0.1:25432/bartender_bench .venv/bin/python bench/health_suite.py [N]

Seed the database first (``manage.py seed_demo --bars 10000 --sales 5000000``). Prints the median of N rounds
(default 5) of: our suite (``health_checks.run_checks``), a whole stored run
(``services.run_health_checks``: suite, storing,
alerts), and the runbook's "Health Check Queries" and Day 1 "Post-Deployment" queries 1-2 run raw in psql
(``\\timing``, per-statement server round trips summed). Day 1 queries 3-4 are left out: 3 needs a session user
(RLS does not apply to the owner) and 4 is a correlated subquery over every sale of the day.
"""

import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminpanel.settings")
from adminpanel.config import local_secret_key  # noqa: E402

# The panel refuses to start with DEBUG off and no SECRET_KEY: the local key kept in the ignored .var/.
os.environ.setdefault("SECRET_KEY", local_secret_key(Path(__file__).resolve().parent.parent / ".var"))

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402

from adminpanel import runbook_sql  # noqa: E402
from monitoring import health_checks, services  # noqa: E402


def runbook_script(server_id: str) -> str:
    health_queries = [
        runbook_sql.HEALTH_ADOPTION_RATE,
        runbook_sql.HEALTH_COVERAGE_24H,
        "EXPLAIN ANALYZE " + runbook_sql.HEALTH_SERVER_ID_INDEX.replace("%s", f"'{server_id}'"),
        runbook_sql.HEALTH_ERRORS_LAST_5_MIN,
    ]
    post_deployment = [runbook_sql.DAY1_COVERAGE, runbook_sql.DAY1_ORPHANED]
    return "\\timing on\n" + "".join(q.strip() + ";\n" for q in health_queries + post_deployment)


def psql_ms(script: str) -> float:
    db = connection.settings_dict
    env = {**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""}
    args = ["psql", "-X", "-q", "-h", db["HOST"], "-p", str(db["PORT"]), "-U", db["USER"], "-d", db["NAME"]]
    out = subprocess.run(args, input=script, capture_output=True, text=True, env=env, check=True).stdout  # noqa: S603
    return sum(float(ms) for ms in re.findall(r"^Time: ([\d.]+) ms", out, flags=re.M))


def main(rounds: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM bars")
        bars = cursor.fetchone()[0]
        cursor.execute("SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE relname = 'sales'")
        sales = cursor.fetchone()[0]
        cursor.execute("SELECT server_id FROM sales WHERE server_id IS NOT NULL LIMIT 1")
        server_id = str((cursor.fetchone() or ["00000000-0000-0000-0000-000000000000"])[0])
    script = runbook_script(server_id)
    health_checks.run_checks()  # warm the cache as the every-5-minutes task has it
    psql_ms(script)
    suite, stored, raw, per_check = [], [], [], {}
    for _ in range(rounds):
        started = time.perf_counter()
        outcomes = health_checks.run_checks()
        suite.append((time.perf_counter() - started) * 1000)
        for o in outcomes:
            per_check.setdefault(o.name, []).append(o.duration_ms)
        started = time.perf_counter()
        services.run_health_checks(trigger="command")
        stored.append((time.perf_counter() - started) * 1000)
        raw.append(psql_ms(script))
    print(f"data: {bars} bars, ~{sales} sales (pg_class estimate); median of {rounds} rounds")
    for name, times in per_check.items():
        print(f"  {name:24} {statistics.median(times):7.0f} ms")
    print(f"our suite ({len(health_checks.CHECKS)} checks)        {statistics.median(suite):7.0f} ms")
    print(f"whole stored run (suite+store+alerts) {statistics.median(stored):7.0f} ms")
    print(f"runbook SQL raw in psql (6 queries)   {statistics.median(raw):7.0f} ms")
    print("ours <= raw:", statistics.median(suite) <= statistics.median(raw))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
