"""Backfill bench (issues 4 and 15), run through bench/backfill_bench.sh, which makes the two identical databases.

1. Set-based reference on database B: one ``UPDATE … FROM`` per table doing the same resolution (the panel's
   write statement, ``backfill.backfill_sql.write_sql``, over the whole key range, every distinct name normalised by
   the same Python function), log rows included, with ``enable_nestloop = off`` (see ``setbased``).
2. The panel's backfill on database A, the way the panel runs it: ``start_backfill`` (its pending count
   included in the time) handed to real Celery workers (``celery worker -c RANGES`` on a private Redis database),
   one key range per worker process; timed from the start to the run's ``finished`` (``VACUUM`` at the end off
   in both runs). Meanwhile a probe session takes a share lock on a row just ahead of each range's cursor
   every 20 ms: its longest wait is the longest a concurrent writer of one sale waited for the backfill.
3. Both databases must end identical (md5 of every server_id of the three tables and of every log row), or
   the bench fails.

Prints figures only.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def setup(url: str):
    os.environ["DATABASE_URL"] = url
    import django

    django.setup()


def setbased(url: str) -> dict:
    setup(url)
    from django.db import connection, transaction

    from backfill.backfill_sql import normalised_names, write_sql
    from backfill.sources import SOURCES

    rows = 0
    started = time.perf_counter()
    for source in SOURCES:
        with transaction.atomic(), connection.cursor() as cursor:
            # The log is empty when the statement is planned, so the planner takes a nested-loop anti-join that
            # rescans the log for every row while the statement itself fills it (quadratic: about 100 rows/s at
            # 5M sales). No DBA would run that; hash joins are what "one set-based UPDATE" means here.
            cursor.execute("SET LOCAL enable_nestloop = off")
            name = "server_name" if source.has_server_name else "NULL::text"
            cursor.execute(f"SELECT max(id), array_agg(DISTINCT {name}) FROM {source.table} WHERE server_id IS NULL")
            upper, names = cursor.fetchone()
            raw, norm = normalised_names(names)
            cursor.execute(
                write_sql(source, None), {"after": 0, "upper": upper or 0, "bar_id": None, "raw": raw, "norm": norm}
            )
            rows += sum(n for _, _, n in cursor.fetchall())
    seconds = time.perf_counter() - started
    return {"rows": rows, "seconds": seconds}


class LockProbe(threading.Thread):
    """Every 20 ms, a share lock on the row just ahead of each range's cursor (inside the batch in flight)."""

    def __init__(self, url: str, run_id: int):
        super().__init__(daemon=True)
        self.url, self.run_id = url, run_id
        self.longest_ms = 0.0
        self.probes = 0
        self.stop = threading.Event()

    def run(self):
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '10s'")
            while not self.stop.wait(0.02):
                ahead = conn.execute(
                    "SELECT g.last_id + r.batch_size / 2 FROM backfill_run_ranges g JOIN backfill_runs r "
                    "ON r.id = g.run_id WHERE g.run_id = %s AND g.phase = 'sales' AND NOT g.done",
                    [self.run_id],
                ).fetchall()
                for (row_id,) in ahead:
                    started = time.perf_counter()
                    conn.execute("SELECT id FROM sales WHERE id = %s FOR SHARE", [row_id])
                    self.longest_ms = max(self.longest_ms, (time.perf_counter() - started) * 1000)
                    self.probes += 1


def panel(url: str, broker: str, ranges: int, timeout: float) -> dict:
    os.environ["REDIS_URL"] = broker
    os.environ["BACKFILL_VACUUM_AT_END"] = "0"
    setup(url)
    from django.conf import settings

    from backfill.backfill import start_backfill
    from backfill.models import BackfillRun
    from backfill.tasks import enqueue_backfill

    settings.BACKFILL_VACUUM_AT_END = False
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": broker, "BACKFILL_VACUUM_AT_END": "0"}
    env["CELERY_CONCURRENCY"] = str(ranges)
    with tempfile.NamedTemporaryFile("w+", suffix=".log") as log:
        worker = subprocess.Popen(  # noqa: S603
            [str(ROOT / ".venv/bin/celery"), "-A", "adminpanel", "worker", "-c", str(ranges), "--loglevel=INFO"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 120
            while " ready." not in Path(log.name).read_text():
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("celery worker did not start:\n" + Path(log.name).read_text()[-2000:])
                time.sleep(0.2)
            started = time.perf_counter()
            run = start_backfill(ranges=ranges, via=BackfillRun.Via.TASK)
            probe = LockProbe(url, run.pk)
            probe.start()
            if not enqueue_backfill(run.pk):
                raise SystemExit(f"broker {broker} unreachable")
            deadline = time.monotonic() + timeout
            while True:
                run.refresh_from_db()
                if run.status != BackfillRun.Status.RUNNING:
                    break
                if time.monotonic() > deadline:
                    raise SystemExit(f"backfill not finished after {timeout} s: {run}")
                time.sleep(0.1)
            seconds = (run.finished_at - run.started_at).total_seconds()
            seconds = max(seconds, time.perf_counter() - started - 0.1)  # polling granularity, never in our favour
            probe.stop.set()
            probe.join()
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    if run.status != BackfillRun.Status.FINISHED:
        raise SystemExit(f"backfill ended {run.status}: {run.error}")
    return {
        "rows": run.rows_done,
        "seconds": seconds,
        "longest_batch_ms": run.longest_batch_ms,
        "batches": run.batches,
        "timeouts": run.timeouts,
        "lock_probe_longest_ms": probe.longest_ms,
        "lock_probes": probe.probes,
    }


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


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--panel", required=True, help="database the panel's backfill runs on")
    parser.add_argument("--setbased", required=True, help="identical database for the set-based reference")
    parser.add_argument("--broker", required=True, help="a Redis database no other worker listens on")
    parser.add_argument("--ranges", type=int, default=2, help="key ranges = Celery worker processes")
    parser.add_argument("--timeout", type=float, default=3600)
    args = parser.parse_args()

    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    with ctx.Pool(1) as pool:
        reference = pool.apply(setbased, (args.setbased,))
    with ctx.Pool(1) as pool:
        ours = pool.apply(panel, (args.panel, args.broker, args.ranges, args.timeout))
    ref_rate = reference["rows"] / reference["seconds"]
    our_rate = ours["rows"] / ours["seconds"]
    same = fingerprint(args.panel) == fingerprint(args.setbased)
    print(f"rows backfilled: {ours['rows']:,} (set-based: {reference['rows']:,})")
    print(f"set-based UPDATE … FROM: {ref_rate:,.0f} rows/s ({reference['seconds']:.1f} s)")
    print(
        f"panel backfill, {args.ranges} ranges on {args.ranges} Celery processes: {our_rate:,.0f} rows/s "
        f"({ours['seconds']:.1f} s, {ours['batches']} batches, {ours['timeouts']} timeouts)"
    )
    print(f"ratio panel / set-based: {our_rate / ref_rate:.2f}")
    print(f"longest batch: {ours['longest_batch_ms']} ms")
    print(
        f"longest lock wait of a concurrent writer: {ours['lock_probe_longest_ms']:.0f} ms "
        f"({ours['lock_probes']} probes)"
    )
    print(f"same final state: {'yes' if same else 'NO'}")
    if not same or ours["rows"] != reference["rows"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
