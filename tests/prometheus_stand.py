"""Debian's real Prometheus scraping a stand-in of BarTender's API metrics, for the tests (issue 21).

The exporter serves `http_requests_total` (by status) and `http_request_duration_seconds` (a histogram) in the
Prometheus text format; every scrape adds the requests a test set per scrape, so `rate()` over them gives the error
rate and P95 the test chose. Prometheus scrapes it every second; tests wait for the figure they need through the
query API, never for a fixed time.
"""

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


class PrometheusStand:
    def __init__(self):
        self.figures = ApiFigures()
        self.exporter = None
        self.process = None
        self.directory = None
        self.url = ""

    def start(self) -> "PrometheusStand":
        figures = self.figures

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                body = figures.scrape().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.exporter = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.exporter.serve_forever, daemon=True).start()
        self.directory = Path(tempfile.mkdtemp(prefix="prometheus-"))
        port = free_port()
        (self.directory / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: bartender-api\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{self.exporter.server_address[1]}']\n"
        )
        self.process = subprocess.Popen(  # noqa: S603
            [PROMETHEUS, f"--config.file={self.directory / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.directory / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
             "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while not self._ready():
            assert self.process.poll() is None, "prometheus exited"
            assert time.monotonic() < deadline, "prometheus was not ready within 60 s"
            time.sleep(0.1)
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False

    def value(self, promql: str) -> float | None:
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            result = json.loads(response.read())["data"]["result"]
        if not result:
            return None
        value = float(result[0]["value"][1])
        return None if value != value else value  # NaN: no traffic yet

    def wait_for(self, promql: str, predicate, timeout: float = 60) -> float:
        """Poll the query until its value satisfies `predicate` (the scrapes have caught up); its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.value(promql)
            if value is not None and predicate(value):
                return value
            assert time.monotonic() < deadline, f"{promql} never satisfied the test (last {value})"
            time.sleep(0.2)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
        if self.exporter is not None:
            self.exporter.shutdown()
            self.exporter.server_close()
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
