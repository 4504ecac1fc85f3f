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
import time
import urllib.parse
import urllib.request
from pathlib import Path

from demo.api_stand import ApiFigures, serve

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PrometheusStand:
    """Debian's prometheus on a free port, scraping demo.api_stand's exporter every second."""

    def __init__(self):
        self.figures = ApiFigures()
        self.exporter = None
        self.process = None
        self.directory = None
        self.url = ""

    def start(self) -> "PrometheusStand":
        self.exporter = serve(self.figures, build="test-build")
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
