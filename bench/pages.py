"""Bench: every page of the panel, one user, at production size (DESIGN.md §8: each page under 300 ms).

    .venv/bin/python bench/pages.py [--sales 5000000] [--log-rows 4900000] [--rounds 20] [--only /monitoring/]

Uses its own database `bartender_bench_pages` on the local cluster (created, migrated and seeded on first use,
reused afterwards; the dev database is never touched): 10,000 bars, the sales of ``--sales`` over 30 days (the time
since the seed filled at the seed's rate), 100,000 mappings, ``--log-rows`` backfill log rows (health_suite's seed),
every runbook phase filled (cockpit's), and one open critical incident with its alert (the incident pages and the
root-cause page have something to read). Then every page the URLconf names without arguments is found, each is
rendered as the admin (who may see all of them) through Django's test client (session, permissions, template:
the whole request), 3 warm-ups then ``--rounds`` timed, and printed with its median, p95 and number of queries.
It exits 1 when any page's p95 is 300 ms or more.
"""

import argparse
import logging
import statistics
import sys
import time

BENCH_DB = "bartender_bench_pages"
TARGET_MS = 300
# Routes that are not pages: sign-out, downloads, JSON for machines, the flag API, the Django admin.
SKIP_PREFIXES = ("/accounts/", "/api/", "/django-admin/", "/metrics", "/healthz", "/pick/")


def prepare(args) -> None:
    import health_suite

    health_suite.use_database(BENCH_DB)
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)  # pages name static files through the manifest
    call_command("migrate", verbosity=0, interactive=False)
    health_suite.LOG_ROWS = args.log_rows
    health_suite.seed(args.sales)


def incident(owner) -> None:
    """One open critical incident with its alert, as the kill switch leaves them (idempotent)."""
    from monitoring.models import Incident

    if Incident.objects.exists():
        return
    from rollout.killswitch import services

    services.pull_kill_switch(actor=owner, reason="bench: an incident to read")


def page_urls() -> list[str]:
    """Every route of the URLconf without arguments, as paths (pages, partials and downloads alike)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def walk(patterns, prefix):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and "<" not in route and "^" not in route:
                yield "/" + route

    return sorted({p for p in walk(get_resolver().url_patterns, "") if not p.startswith(SKIP_PREFIXES)})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=5_000_000)
    parser.add_argument("--log-rows", type=int, default=4_900_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--only", action="append", help="time only these paths (repeatable)")
    args = parser.parse_args()
    prepare(args)

    from cockpit import runbook_state
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from adminpanel.models import User
    from demo.deployment import ensure_demo_logins

    setup_test_environment()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the 405s of POST-only routes are expected
    ensure_demo_logins(password="bench-password")
    owner = User.objects.get(username="product")
    runbook_state(owner)
    incident(owner)
    client = Client()
    client.force_login(User.objects.get(username="admin"))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT (SELECT count(*) FROM bars), (SELECT reltuples::bigint FROM pg_class WHERE relname = 'sales'), "
            "(SELECT reltuples::bigint FROM pg_class WHERE relname = 'migration_server_id_log')"
        )
        bars, sales, logs = cursor.fetchone()
    print(f"data: {bars:,} bars, ~{sales:,} sales, ~{logs:,} backfill log rows; {args.rounds} rounds after 3 warm-ups")
    print(f"{'page':44} {'status':>6} {'median ms':>10} {'p95 ms':>8} {'queries':>8}")
    slow = []
    for path in args.only or page_urls():
        status = client.get(path).status_code
        if status != 200:
            print(f"{path:44} {status:>6} (not a page for a GET: skipped)")
            continue
        for _ in range(2):
            client.get(path)
        times = []
        for _ in range(args.rounds):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        p95 = statistics.quantiles(times, n=20)[18] if len(times) > 1 else times[0]
        flag = "" if p95 < TARGET_MS else "  SLOW"
        if flag:
            slow.append(path)
        print(f"{path:44} {status:>6} {statistics.median(times):10.1f} {p95:8.1f} {len(queries):8d}{flag}")
    print(f"target: every page p95 < {TARGET_MS} ms: " + ("met" if not slow else f"NOT met by {', '.join(slow)}"))
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main())
