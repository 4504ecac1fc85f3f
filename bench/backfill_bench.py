"""Timings for issue 4 (run through bench/backfill_bench.sh, which seeds the two identical databases).

1. The batched backfill (backfill.backfill.run_backfill, default batch size and timeouts) on database A:
   rows/s, longest single batch, batches, timeouts; VACUUM ANALYZE timed apart.
2. The same resolution as one set-based ``UPDATE … FROM`` per table (the write statement of
   mappings.backfill over the whole key range, names normalised by the same Python function) on database B.
3. Both databases must end with the same server_id everywhere and the same log rows.
4. Migration-log and audit-log list pages at 1,000,000 rows each (tables topped up with synthetic rows):
   first page and 100th page (keyset cursor), median of repeated requests through Django's test client.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminpanel.settings")
from adminpanel.config import local_secret_key  # noqa: E402

# The panel refuses to start with DEBUG off and no SECRET_KEY: the local key kept in the ignored .var/.
os.environ.setdefault("SECRET_KEY", local_secret_key(Path(__file__).resolve().parent.parent / ".var"))

LOG_TARGET = 1_000_000
REPEAT = 15


def setup(url: str):
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()


def batched() -> dict:
    from django.conf import settings
    from django.db import connection

    from backfill.backfill import count_pending, run_backfill, vacuum_touched_tables

    settings.BACKFILL_VACUUM_AT_END = False
    pending = count_pending()
    started = time.perf_counter()
    run = run_backfill()
    seconds = time.perf_counter() - started
    vacuum_started = time.perf_counter()
    vacuum_touched_tables()
    vacuum = time.perf_counter() - vacuum_started
    connection.close()
    return {
        "rows": run.rows_done,
        "pending_at_start": pending,
        "seconds": round(seconds, 2),
        "rows_per_s": round(run.rows_done / seconds),
        "batch_seconds": round(run.active_seconds, 2),
        "longest_batch_ms": run.longest_batch_ms,
        "batches": run.batches,
        "batch_size": run.configured_batch_size,
        "timeouts": run.timeouts,
        "vacuum_s": round(vacuum, 2),
        "status": run.status,
    }


def setbased() -> dict:
    from django.db import connection, transaction

    from backfill.backfill import SOURCES, normalised_names, write_sql

    rows = 0
    per_table = {}
    started = time.perf_counter()
    for source in SOURCES:
        table_started = time.perf_counter()
        with transaction.atomic(), connection.cursor() as cursor:
            name = "server_name" if source.has_server_name else "NULL::text"
            cursor.execute(f"SELECT max(id), array_agg(DISTINCT {name}) FROM {source.table} WHERE server_id IS NULL")
            upper, names = cursor.fetchone()
            raw, norm = normalised_names(names)
            cursor.execute(
                write_sql(source, None), {"after": 0, "upper": upper or 0, "bar_id": None, "raw": raw, "norm": norm}
            )
            count = sum(n for _, _, n in cursor.fetchall())
        rows += count
        per_table[source.table] = {"rows": count, "seconds": round(time.perf_counter() - table_started, 2)}
    seconds = time.perf_counter() - started
    connection.close()
    return {"rows": rows, "seconds": round(seconds, 2), "rows_per_s": round(rows / seconds), "per_table": per_table}


_SERVER_IDS = "SELECT md5(string_agg(id::text || ':' || coalesce(server_id::text, '-'), ',' ORDER BY id)) FROM "
STATE_SQL = {
    **{table: _SERVER_IDS + table for table in ("sales", "consignments", "returns")},
    "log": "SELECT md5(string_agg(concat_ws('|', sale_id, consignment_id, return_id, bar_id, server_name, "
    "resolved_server_id, fallback_used, fallback_reason), ',' ORDER BY sale_id, consignment_id, return_id)) "
    "FROM migration_server_id_log",
}


def fingerprint(url: str) -> dict:
    import psycopg

    with psycopg.connect(url) as conn:
        return {name: conn.execute(sql).fetchone()[0] for name, sql in STATE_SQL.items()}


def top_up_logs() -> dict:
    """Synthetic rows so each log table holds LOG_TARGET rows (one set-based INSERT each)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM migration_server_id_log")
        have = cursor.fetchone()[0]
        if have < LOG_TARGET:
            cursor.execute(
                """
                INSERT INTO migration_server_id_log (consignment_id, bar_id, server_name, resolved_server_id,
                                                     fallback_used, fallback_reason, created_at)
                SELECT 1000000000 + g, b.id, 'Bench ' || (g %% 50), NULL, g %% 3 = 0,
                       CASE WHEN g %% 3 = 0 THEN 'unmapped_name' END, now() - make_interval(secs => g)
                FROM generate_series(1, %s) AS g
                JOIN LATERAL (SELECT id FROM bars ORDER BY id OFFSET (g %% 100) LIMIT 1) b ON true
                """,
                [LOG_TARGET - have],
            )
        cursor.execute("SELECT count(*) FROM audit_logs")
        audits = cursor.fetchone()[0]
        if audits < LOG_TARGET:
            cursor.execute(
                """
                INSERT INTO audit_logs (bar_id, level, error_type, error_message, payload, created_at)
                SELECT NULL, (ARRAY['error','warning','info'])[1 + g %% 3],
                       (ARRAY['server_id_resolution','sync','payment'])[1 + g %% 3],
                       CASE WHEN g %% 7 = 0 THEN 'server_id resolution failed' ELSE 'Sync timeout after 30s' END,
                       '{}'::jsonb, now() - make_interval(secs => g * 2)
                FROM generate_series(1, %s) AS g
                """,
                [LOG_TARGET - audits],
            )
        cursor.execute("VACUUM ANALYZE migration_server_id_log")
        cursor.execute("VACUUM ANALYZE audit_logs")
        cursor.execute("SELECT (SELECT count(*) FROM migration_server_id_log), (SELECT count(*) FROM audit_logs)")
        log_rows, audit_rows = cursor.fetchone()
    return {"migration_log_rows": log_rows, "audit_log_rows": audit_rows}


def time_get(client, url: str) -> float:
    timings = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, body[:200])
    return round(statistics.median(timings), 1)


def list_pages() -> dict:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from tests.factories import make_support

    size = 50
    user = make_support(username="bench_support")
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM migration_server_id_log ORDER BY id DESC OFFSET %s LIMIT 1", [99 * size])
        log_cursor = cursor.fetchone()[0] + 1
        cursor.execute(
            "SELECT id FROM migration_server_id_log WHERE fallback_reason = 'unmapped_name' "
            "ORDER BY id DESC OFFSET %s LIMIT 1",
            [99 * size],
        )
        filtered_cursor = cursor.fetchone()[0] + 1
        cursor.execute(
            "SELECT created_at, id FROM audit_logs ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1", [99 * size - 1]
        )
        stamp, pk = cursor.fetchone()
    audit_cursor = f"{stamp.isoformat()}_{pk}"
    log_url = reverse("backfill:migration_log")
    audit_url = reverse("monitoring:audit_log")
    from urllib.parse import urlencode

    results = {
        "migration_log_first_page_ms": time_get(client, log_url),
        "migration_log_page_100_ms": time_get(client, f"{log_url}?after={log_cursor}"),
        "migration_log_filtered_first_page_ms": time_get(client, f"{log_url}?reason=unmapped_name"),
        "migration_log_filtered_page_100_ms": time_get(
            client, f"{log_url}?reason=unmapped_name&after={filtered_cursor}"
        ),
        "audit_log_first_page_ms": time_get(client, audit_url),
        "audit_log_page_100_ms": time_get(client, f"{audit_url}?{urlencode({'after': audit_cursor})}"),
        "audit_log_errors_first_page_ms": time_get(client, f"{audit_url}?level=error"),
        "migration_summary_ms": time_get(client, reverse("backfill:migration_log_summary")),
        "audit_chart_ms": time_get(client, reverse("monitoring:audit_log_chart")),
    }
    with CaptureQueriesContext(connection) as queries:
        client.get(f"{log_url}?after={log_cursor}")
    results["migration_log_page_queries"] = len(queries)
    results["no_count_star"] = not any("COUNT(*)" in q["sql"].upper() for q in queries)
    return results


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batched", required=True)
    parser.add_argument("--setbased", required=True)
    args = parser.parse_args()

    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        report_b = pool.apply(_in_db, (args.setbased, "setbased"))
    print("set-based UPDATE … FROM:", report_b, flush=True)
    with ctx.Pool(1) as pool:
        report_a = pool.apply(_in_db, (args.batched, "batched"))
    print("batched backfill:", report_a, flush=True)
    same = fingerprint(args.batched) == fingerprint(args.setbased)
    ratio = round(report_b["rows_per_s"] / report_a["rows_per_s"], 2)
    print(f"set-based / batched rows/s ratio: {ratio} (target <= 2); same final state: {same}", flush=True)
    with ctx.Pool(1) as pool:
        pages = pool.apply(_in_db, (args.batched, "pages"))
    print("list pages:", pages)


def _in_db(url: str, what: str):
    setup(url)
    if what == "batched":
        return batched()
    if what == "setbased":
        return setbased()
    top = top_up_logs()
    return {**top, **list_pages()}


if __name__ == "__main__":
    main()
