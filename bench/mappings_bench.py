"""Timings for issue 3 (run through bench/mappings_bench.sh, which makes and seeds the database).

Adds one bar with 100,000 sales (about 600 distinct typed spellings over 60 days, a third of them unmapped)
and 10,000 mappings, then times, through Django's test client (middleware, permission checks, templates):
the unmapped-names page, the bar's page, and the resolution API for a known and an unknown name.
Each figure is over REPEAT requests after WARMUP; the target for the unmapped-names page is under 200 ms.
"""

import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
from adminpanel.config import local_secret_key  # noqa: E402

# The panel refuses to start with DEBUG off and no SECRET_KEY: the local key kept in the ignored .var/.
os.environ.setdefault("SECRET_KEY", local_secret_key(Path(__file__).resolve().parent.parent / ".var"))

SALES = 100_000
MAPPINGS = 10_000
WARMUP = 3
REPEAT = 30


def seed_big_bar():
    from django.db import connection, transaction
    from guardian.shortcuts import assign_perm

    from adminpanel.models import ApiClient, Bar, BarMember, MemberRole, User
    from adminpanel.permissions import MANAGE_BAR_MAPPINGS
    from mappings.models import ServerNameMapping
    from mappings.names import normalize_server_name

    with transaction.atomic():
        bar = Bar.objects.create(name="Bench Bar (100k sales)")
        manager = User.objects.create_user(username="bench-manager", password="bench-pass-123")
        BarMember.objects.create(bar=bar, user=manager, role=MemberRole.MANAGER)
        assign_perm(MANAGE_BAR_MAPPINGS, manager, bar)
        servers = User.objects.bulk_create(
            User(username=f"bench-server-{i}", display_name=f"Serveur {i}", password="!") for i in range(40)
        )
        BarMember.objects.bulk_create(BarMember(bar=bar, user=u, role=MemberRole.SERVER) for u in servers)
        ServerNameMapping.objects.bulk_create(
            (
                ServerNameMapping(
                    bar=bar,
                    server_name=f"Serveur {i}",
                    normalized_name=normalize_server_name(f"Serveur {i}"),
                    user=servers[i % len(servers)],
                )
                for i in range(MAPPINGS)
            ),
            batch_size=2000,
        )
        # 400 mapped names typed in three spellings (exact, lower case, padded) and 200 unmapped typos.
        with connection.cursor() as cursor:
            cursor.execute(
                """
                INSERT INTO sales (bar_id, server_name, amount, created_at)
                SELECT %s,
                       CASE WHEN g %% 3 = 0 THEN 'Serveur ' || (g %% 400)
                            WHEN g %% 3 = 1 AND g %% 7 <> 0 THEN lower('Serveur ' || (g %% 400))
                            WHEN g %% 7 = 0 THEN ' Serveur  ' || (g %% 400) || ' '
                            ELSE 'Srveur ' || (g %% 200) END,
                       1000,
                       now() - make_interval(secs => (g * 51) %% (60 * 86400))
                FROM generate_series(1, %s) AS g
                """,
                [bar.pk, SALES],
            )
        client = ApiClient(name="bench-pos", all_bars=True)
        token = client.issue_token()
        client.save()
    # As autovacuum would: sets the visibility map, so the names query is an index-only scan without heap
    # fetches. Twice, since an autovacuum ANALYZE started by seed_demo can hold back the first one.
    with connection.cursor() as cursor:
        for _ in range(2):
            cursor.execute("VACUUM ANALYZE sales")
            cursor.execute("VACUUM ANALYZE server_name_mappings")
    return bar, manager, token


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def timed(call, repeat=REPEAT) -> dict:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "median_ms": round(statistics.median(samples), 1),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 1),
        "max_ms": round(samples[-1], 1),
    }


def main():
    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from mappings.selectors import name_report

    setup_test_environment()
    logging.getLogger("django.request").setLevel(logging.ERROR)  # the 422s of the unknown-name runs
    started = time.perf_counter()
    bar, manager, token = seed_big_bar()
    print(f"seeded bench bar: {SALES:,} sales, {MAPPINGS:,} mappings in {time.perf_counter() - started:.1f}s")
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sales")
        print(f"sales table: {cursor.fetchone()[0]:,} rows")
    report = name_report(bar)
    print(f"unmapped names: {len(report.unmapped)}, coverage (30 days): {report.coverage_pct} %")

    client = Client()
    client.force_login(manager)
    results = {}
    for label, path in [
        ("unmapped-names page", reverse("mappings:unmapped", args=[bar.pk])),
        ("bar page", reverse("mappings:bar_detail", args=[bar.pk])),
    ]:

        def get(path=path):
            response = client.get(path)
            assert response.status_code == 200, response.status_code

        counter = QueryCounter()
        with connection.execute_wrapper(counter):
            get()
        results[label] = {**timed(get), "queries": counter.count}

    api = Client()
    for label, name in [("resolve API, known name", " serveur 42 "), ("resolve API, unknown name", "Nobody")]:
        body = json.dumps({"name": name})

        def post(body=body):
            api.post(
                f"/api/v1/bars/{bar.pk}/resolve-server",
                body,
                content_type="application/json",
                HTTP_AUTHORIZATION=f"Bearer {token}",
            )

        results[label] = timed(post, repeat=200)

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN (FORMAT JSON) SELECT server_name, count(*), max(created_at) FROM sales "
            "WHERE bar_id = %s AND server_name IS NOT NULL GROUP BY server_name",
            [bar.pk],
        )
        plan = json.dumps(cursor.fetchone()[0])
    print("names query plan uses sales_bar_server_name_idx:", "sales_bar_server_name_idx" in plan)
    for label, figures in results.items():
        print(f"{label:28} " + "  ".join(f"{k} {v}" for k, v in figures.items()))
    target = results["unmapped-names page"]["p95_ms"]
    print(f"unmapped-names page p95 {target} ms: {'under' if target < 200 else 'OVER'} the 200 ms target")


if __name__ == "__main__":
    main()
