"""Bench: CPU time per request of OFREP bulk evaluation for one bar against `GET /api/v1/flags` for the same bar,
through the panel's WSGI application in this process (no server, no network): the figure a busy shared machine
disturbs least, beside the served one of bench/ofrep_bench.sh.

    .venv/bin/python bench/ofrep_bench_cpu.py [--requests 3000] [--rounds 5]

Same settings as the served benches (bench/flag_api_settings.py), on the rollout bench database (10,000 bars), flag
cache on with its listener; the two routes alternate round by round. Prints process CPU microseconds per request
(median of the rounds) and their ratio.
"""

import argparse
import io
import json
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
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    use_bench_database(bars=10_000)
    import warnings

    warnings.filterwarnings("ignore", message="No directory at")  # whitenoise: no collectstatic for a bench
    from django.core.wsgi import get_wsgi_application

    from adminpanel.models import ApiClient, Bar
    from rollout.flags.flag_cache import flag_cache

    app = get_wsgi_application()
    assert flag_cache.wait_until_listening(10), "the flag cache's listener did not connect"
    ApiClient.objects.filter(name="ofrep-cpu").delete()
    client = ApiClient(name="ofrep-cpu", all_bars=True)
    token = client.issue_token()
    client.save()
    bar = str(Bar.objects.order_by("pk").values_list("pk", flat=True).first())
    body = json.dumps({"context": {"targetingKey": bar}}).encode()
    status = {}

    def start_response(line, headers, exc_info=None):
        status["line"] = line

    def environ(method, path, query="", payload=b""):
        return {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000", "HTTP_AUTHORIZATION": f"Bearer {token}",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(payload)),
            "wsgi.input": io.BytesIO(payload), "wsgi.url_scheme": "http", "SERVER_PROTOCOL": "HTTP/1.1",
        }  # fmt: skip

    def per_request(method, path, query="", payload=b"") -> float:
        for _ in range(200):  # warm: connections, caches, code paths
            b"".join(app(environ(method, path, query, payload), start_response))
        started = time.process_time()
        for _ in range(args.requests):
            response = app(environ(method, path, query, payload), start_response)
            b"".join(response)
            response.close()
        assert status["line"].startswith("200"), (path, status["line"])
        return (time.process_time() - started) / args.requests * 1e6

    cases = {
        "GET /api/v1/flags": lambda: per_request("GET", "/api/v1/flags", f"bar={bar}"),
        "POST /ofrep/v1/evaluate/flags": lambda: per_request("POST", "/ofrep/v1/evaluate/flags", payload=body),
    }
    results = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, run in cases.items():
            results[name].append(run())
    flags_api = statistics.median(results["GET /api/v1/flags"])
    print(f"CPU per request in-process, {args.requests} requests x {args.rounds} rounds (median), 10,000 bars")
    for name, values in results.items():
        median = statistics.median(values)
        print(f"  {name:30} {median:6.0f} us   (throughput {flags_api / median:.2f}x the flag API's)")
    ApiClient.objects.filter(pk=client.pk).delete()
    flag_cache.stop()


if __name__ == "__main__":
    main()
