"""Bench: the flag read API against a bare Django view on the same server, with a Python load generator.

The targets (≥ 1.0× the bare view's throughput, p99 < 10 ms at 8 connections) are measured under the production
server by bench/flag_api_wrk.sh (granian, wrk); this one is the older stdlib-server variant, kept for machines
without wrk. Like every bench it creates the database it needs (bench/rollout_bench_db.py) and prints only figures.

    .venv/bin/python bench/flag_api_bench.py [--requests 3000] [--clients 8] [--threads 8] [--bars 10000]

Serves the panel with bench/flag_api_server.py (stdlib WSGI, fixed thread pool) on 127.0.0.1, then sends a bounded
number of requests from client threads on 127.0.0.1 only, and prints the figures. It ends by pulling the kill switch
from this process and checking that the server process shows it on the very next request (then restores the flags).
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from rollout_bench_db import ROOT, use_bench_database  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def request(port: int, path: str, headers: dict) -> tuple[int, float, bytes]:
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        return response.status, time.perf_counter() - started, body
    finally:
        conn.close()


def load(port: int, paths: list[str], headers: dict, total: int, clients: int) -> dict:
    """`total` requests spread over `clients` threads; throughput and latency percentiles."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    per_client = total // clients

    def run(offset: int):
        mine, seen = [], {}
        for i in range(per_client):
            status, seconds, _ = request(port, paths[(offset + i) % len(paths)], headers)
            mine.append(seconds)
            seen[status] = seen.get(status, 0) + 1
        with lock:
            latencies.extend(mine)
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    threads = [threading.Thread(target=run, args=(n * 7,)) for n in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "rps": len(latencies) / wall,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "statuses": statuses,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--bars", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    use_bench_database(bars=args.bars)

    from adminpanel.models import ApiClient, Bar, User
    from rollout.flags import services as flag_services
    from rollout.killswitch import services as kill_switch_services
    from rollout.models import FeatureFlag, FlagState, ensure_default_flags

    ensure_default_flags()
    ApiClient.objects.filter(name="flag-api-bench").delete()
    api_client = ApiClient(name="flag-api-bench", all_bars=True)  # polls 200 bars
    token = api_client.issue_token()
    api_client.save()
    bar_ids = [str(pk) for pk in Bar.objects.order_by("?").values_list("pk", flat=True)[:200]]
    headers = {"Authorization": f"Bearer {token}"}
    flag_paths = [f"/api/v1/flags?bar={bar_id}" for bar_id in bar_ids]
    bare_paths = ["/bench/bare"]

    port = free_port()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "flag_api_settings"}
    server = subprocess.Popen(  # noqa: S603 (our own server script, fixed arguments)
        [sys.executable, str(BENCH / "flag_api_server.py"), str(port), str(args.threads)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        server.stdout.readline()  # "serving on …"
        status, _, body = request(port, flag_paths[0], headers)
        assert status == 200, (status, body)
        load(port, flag_paths, headers, 400, args.clients)  # warm-up: connections, caches, code paths
        load(port, bare_paths, headers, 400, args.clients)
        results: dict[str, list[dict]] = {"bare": [], "flags": []}
        for _ in range(args.rounds):
            results["bare"].append(load(port, bare_paths, headers, args.requests, args.clients))
            results["flags"].append(load(port, flag_paths, headers, args.requests, args.clients))
        bare = max(results["bare"], key=lambda r: r["rps"])
        flags = max(results["flags"], key=lambda r: r["rps"])
        ratio = flags["rps"] / bare["rps"]
        print(f"server: stdlib WSGI, {args.threads} threads; load: {args.clients} client threads, "
              f"{args.requests} requests per endpoint x {args.rounds} rounds (best round shown); "
              f"{Bar.objects.count()} bars")  # fmt: skip
        for name, result in (("bare Django view", bare), ("GET /api/v1/flags", flags)):
            print(f"  {name:18} {result['rps']:7.0f} req/s  p50 {result['p50_ms']:5.1f} ms  "
                  f"p99 {result['p99_ms']:5.1f} ms  statuses {result['statuses']}")  # fmt: skip
        print(f"throughput ratio flags/bare: {ratio:.2f} (target >= 1.0); flag API p99 {flags['p99_ms']:.1f} ms "
              f"(target < 10 ms)")  # fmt: skip

        # 304 and cross-process kill switch visibility.
        status, _, body = request(port, flag_paths[0], headers)
        etag = '"' + json.loads(body)["version"] + '"'
        assert request(port, flag_paths[0], {**headers, "If-None-Match": etag})[0] == 304
        admin, _ = User.objects.get_or_create(username="bench-rollout", defaults={"is_superuser": True})
        before = {flag.key: flag.state for flag in FeatureFlag.objects.all()}
        kill_switch_services.pull_kill_switch(actor=admin, reason="flag API bench: visibility check")
        status, _, body = request(port, flag_paths[0], {**headers, "If-None-Match": etag})
        seen = json.loads(body)["flags"]
        print(f"kill switch pulled in another process → next request: {status}, flags {seen}")
        assert status == 200 and not any(seen.values())
        for key, state in before.items():
            flag_services.flip_flag(
                actor=admin, flag_key=key, state=state or FlagState.ALLOW_LIST, reason="bench restore"
            )
    finally:
        server.terminate()
        server.wait(timeout=10)
        ApiClient.objects.filter(pk=api_client.pk).delete()


if __name__ == "__main__":
    main()
