"""Bench: `GET /api/v1/flags/snapshot` of a fleet-wide token at 10,000 bars, under granian as `bin/dev serve` runs it.

    .venv/bin/python bench/flag_api_snapshot.py [--bars 10000] [--requests 50]

Prints the body size and the time per answer (one keep-alive connection, sequential requests, median and max):
the 200 right after a change (the process rebuilds the snapshot from the database), the 200 from the kept
snapshot, and the 304 for a client that already holds the ETag.
"""

import argparse
import http.client
import os
import signal
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from flag_api_propagation import free_port, start_granian  # noqa: E402
from rollout_bench_db import fleet_token, use_bench_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bars", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    use_bench_database(bars=args.bars)
    from adminpanel.models import ApiClient, Bar
    from rollout.models import ensure_default_flags

    ensure_default_flags()
    token = fleet_token("flag-api-snapshot")
    os.environ["WEB_WORKERS"] = "1"  # one process, so every request meets the same kept snapshot
    port = free_port()
    server = start_granian(port)
    try:
        conn = None
        deadline = time.monotonic() + 60
        while conn is None:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                conn.request("GET", "/bench/bare")
                conn.getresponse().read()
            except OSError:
                conn = None
                if time.monotonic() > deadline:
                    raise SystemExit("granian did not answer within 60 s") from None
                time.sleep(0.1)

        def get(**headers) -> tuple[int, float, bytes, str]:
            started = time.perf_counter()
            conn.request("GET", "/api/v1/flags/snapshot", headers={"Authorization": f"Bearer {token}", **headers})
            response = conn.getresponse()
            body = response.read()
            return response.status, (time.perf_counter() - started) * 1000, body, response.getheader("ETag")

        def change_every_bar() -> None:
            # A new version of one flag changes every bar's answer (and the ETag); its trigger notifies the server.
            from django.db.models import F

            from rollout.models import FeatureFlag

            FeatureFlag.objects.filter(key="SHOW_SWITCHING_MODE_UI").update(version=F("version") + 1)

        status, _, body, etag = get()
        assert status == 200, (status, body[:200])
        rebuilt, kept, not_modified = [], [], []
        for _ in range(max(args.requests // 10, 3)):
            change_every_bar()
            before = etag
            while etag == before:  # the notification is asynchronous: the first answer with the new ETag
                status, ms, body, etag = get()
            rebuilt.append(ms)
        for _ in range(args.requests):
            status, ms, body, etag = get()
            assert status == 200
            kept.append(ms)
            status, ms, _, _ = get(**{"If-None-Match": etag})
            assert status == 304
            not_modified.append(ms)
        print(
            f"snapshot of {Bar.objects.count()} bars (fleet-wide token): {len(body):,} bytes, granian 1 worker x "
            f"{os.environ.get('WEB_THREADS', '4')} threads, one keep-alive connection"
        )
        for name, values in (("200 after a change", rebuilt), ("200 kept", kept), ("304", not_modified)):
            print(f"  {name:18} median {statistics.median(values):7.1f} ms  max {max(values):7.1f} ms  ({len(values)})")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=20)
        ApiClient.objects.filter(name="flag-api-snapshot").delete()


if __name__ == "__main__":
    main()
