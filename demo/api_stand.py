"""A stand-in for BarTender's API, for the demo (bin/dev up) and the tests: its health URL (the build it serves, as
Phase 3 and Option B poll it) and its Prometheus metrics (`http_requests_total` by status and the
`http_request_duration_seconds` histogram), so the panel reads the API's error rate and P95 from a real
Prometheus scraping it (DESIGN §4d).

Run: ``python -m demo.api_stand --port 8001 --build <hash>``: every scrape adds 5,000 requests, 0.02 % of them
failing, answered in about 120 ms.
"""

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)


class ApiFigures:
    """What each scrape adds: requests, how many of them failed (5xx), and how long they all took."""

    def __init__(self):
        self.lock = threading.Lock()
        self.per_scrape = (0, 0, 0.1)  # (requests, errors, seconds each)
        self.total = self.errors = 0
        self.buckets = dict.fromkeys(BUCKETS, 0)
        self.sum = 0.0

    def set(self, *, requests: int, errors: int = 0, seconds: float = 0.1) -> None:
        with self.lock:
            self.per_scrape = (requests, errors, seconds)

    def scrape(self) -> str:
        with self.lock:
            requests, errors, seconds = self.per_scrape
            self.total += requests
            self.errors += errors
            self.sum += requests * seconds
            for bound in BUCKETS:
                if seconds <= bound:
                    self.buckets[bound] += requests
            lines = [
                "# TYPE http_requests_total counter",
                f'http_requests_total{{status="200"}} {self.total - self.errors}',
                f'http_requests_total{{status="500"}} {self.errors}',
                "# TYPE http_request_duration_seconds histogram",
                *[f'http_request_duration_seconds_bucket{{le="{b}"}} {n}' for b, n in self.buckets.items()],
                f'http_request_duration_seconds_bucket{{le="+Inf"}} {self.total}',
                f"http_request_duration_seconds_sum {self.sum}",
                f"http_request_duration_seconds_count {self.total}",
            ]
        return "\n".join(lines) + "\n"


def serve(figures: ApiFigures, *, build: str, port: int = 0) -> ThreadingHTTPServer:
    """Serve /health (JSON with the build) and /metrics from a thread; the server (its port: server_address)."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path.startswith("/metrics"):
                body, kind = figures.scrape().encode(), "text/plain; version=0.0.4"
            else:
                body, kind = json.dumps({"status": "ok", "build": build}).encode(), "application/json"
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description="A stand-in for BarTender's API: /health and /metrics.")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--build", required=True)
    args = parser.parse_args()
    figures = ApiFigures()
    figures.set(requests=5000, errors=1, seconds=0.12)  # per scrape: 0.02 % errors, about 120 ms each
    serve(figures, build=args.build, port=args.port)
    threading.Event().wait()  # the server's thread serves until supervisord stops the process


if __name__ == "__main__":
    main()
