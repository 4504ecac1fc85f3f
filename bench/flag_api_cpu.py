"""Bench: CPU time per request of the flag API and of a bare Django view, through the panel's WSGI application in
this process (no server, no network): the figure that a busy shared machine disturbs least.

    .venv/bin/python bench/flag_api_cpu.py [--requests 3000] [--rounds 3]

Same settings as the served benches (bench/flag_api_settings.py: the panel's middleware plus /bench/bare), on the
rollout bench database (10,000 bars), flag cache on with its listener. Prints process CPU microseconds per request
(median of the rounds): the bare view, `GET /api/v1/flags` (cached reading), `GET /api/v1/flags/snapshot` (kept
body of 10,000 bars) and its 304.
"""

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
os.environ["DJANGO_SETTINGS_MODULE"] = "flag_api_settings"
from rollout_bench_db import use_bench_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    use_bench_database(bars=10_000)
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic for a bench
    from django.core.wsgi import get_wsgi_application

    from adminpanel.models import ApiClient, Bar
    from rollout.flags.flag_cache import flag_cache

    app = get_wsgi_application()
    assert flag_cache.wait_until_listening(10), "the flag cache's listener did not connect"
    ApiClient.objects.filter(name="flag-api-cpu").delete()
    client = ApiClient(name="flag-api-cpu", all_bars=True)
    token = client.issue_token()
    client.save()
    bar = str(Bar.objects.order_by("pk").values_list("pk", flat=True).first())
    status = {}

    def start_response(line, headers, exc_info=None):
        status["line"], status["headers"] = line, dict(headers)

    def environ(path, query="", **extra):
        return {
            "REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {token}",
            "wsgi.input": io.BytesIO(b""), "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1", **extra,
        }  # fmt: skip

    def per_request(path, query="", expect="200", **extra) -> float:
        for _ in range(200):  # warm: connections, caches, code paths
            b"".join(app(environ(path, query, **extra), start_response))
        started = time.process_time()
        for _ in range(args.requests):
            response = app(environ(path, query, **extra), start_response)
            b"".join(response)
            response.close()
        assert status["line"].startswith(expect), (path, status["line"])
        return (time.process_time() - started) / args.requests * 1e6

    snapshot_etag = None
    b"".join(app(environ("/api/v1/flags/snapshot"), start_response))
    snapshot_etag = status["headers"]["ETag"]
    cases = {
        "bare Django view": lambda: per_request("/bench/bare"),
        "GET /api/v1/flags": lambda: per_request("/api/v1/flags", f"bar={bar}"),
        "snapshot 200 (10k bars)": lambda: per_request("/api/v1/flags/snapshot"),
        "snapshot 304": lambda: per_request("/api/v1/flags/snapshot", expect="304", HTTP_IF_NONE_MATCH=snapshot_etag),
    }
    results = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, run in cases.items():
            results[name].append(run())
    bare = statistics.median(results["bare Django view"])
    print(f"CPU per request in-process, {args.requests} requests x {args.rounds} rounds (median), 10,000 bars")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"  {name:24} {median:6.0f} us   ({median / bare:.2f}x the bare view)")
    ApiClient.objects.filter(pk=client.pk).delete()
    flag_cache.stop()


if __name__ == "__main__":
    main()
