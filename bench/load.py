"""Load test: logged-in users over the main pages and clients on the flag API, against the production server.

    .venv/bin/python bench/load.py [--seconds 30] [--users 10,50] [--api-clients 50] [--url http://127.0.0.1:PORT]
    .venv/bin/python bench/load.py --database bartender_bench_pages     # at 10k bars / 5M sales (bench/pages.py's)

Without --url it starts the panel exactly as `bin/dev up` does (granian + whitenoise, Celery worker and beat) on a
free port of 127.0.0.1, on a fresh database `bartender_load` (dropped and re-created; demo data as `bin/dev up`
seeds it) on the cluster of DATABASE_URL, or on the local cluster that bin/dev starts. Then, each phase bounded
to --seconds:

- it logs in N users through the login page (N = 10, then 50, each a support-staff login; 4 at a time, since a
  login costs a password hash of about a second of CPU), then
  wrk (a C load generator, so the client takes little of the cores) sends their session cookies over N
  concurrent connections across the main pages and the dashboard partials that browsers poll;
- the largest user count on the pages and, at the same time, 50 connections of wrk on `GET /api/v1/flags?bar=…`
  with a client token, across all bars, on the client APIs' own server (API_PORT, deploy/supervisor/api.conf):
  the flag API's p99 while people load pages (target < 50 ms). The API clients poll: each waits between two
  requests so that together they send --api-rate requests per second (500: 10,000 devices polling every 20 s);
- the 50 API clients polling alone (p99 < 50 ms), then sending as fast as the server answers (its throughput; at
  saturation the latency is queueing, so only errors count there).

`--database NAME` serves an existing database of the same cluster as it is (`BARTENDER_DEMO=0`: no demo seeding),
e.g. the 10,000 bars / 5,000,000 sales that `bench/pages.py` seeds, instead of a fresh demo database.

Targets (DESIGN §8): pages p95 < 200 ms at 10 users and < 1 s at 50, with 0 errors; the flag API p99 < 50 ms while
the pages are loaded.

It samples pg_stat_activity every 0.2 s throughout and prints, per phase, p50/p95/p99, requests per second, errors
(socket errors, and any answer other than 200 — 304 too for the API), and the peak of PostgreSQL client connections
(whole cluster, and of the panel's database) against max_connections. It exits 1 unless every phase had 0 errors
and the peak stayed at or under 80 % of max_connections. Only loopback addresses are ever loaded.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
LOAD_DB = "bartender_load"
PASSWORD = "load-test-pass-42"  # noqa: S105 (throw-away users of the throw-away load database)
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
LOGIN_CONCURRENCY = 4
PAGES_P95_MS = (200, 1000)  # DESIGN §8: pages p95 at 10 users, and at 50
API_P99_MS = 50  # the flag API's p99 while people load pages
PAGES = [
    "/",
    "/monitoring/status/",
    "/monitoring/charts/",
    "/monitoring/phases/",
    "/monitoring/alerts/",
    "/logs/audit/",
    "/logs/migration/",
    "/backfill/",
    "/validation/",
    "/rollout/",
    "/rollout/history/",
    "/rollout/records/",
    "/mappings/",
]

WRK_SCRIPT = r"""
local paths = {%(paths)s}
local headers = {%(headers)s}
local threads = {}
function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
function init(args)
  n = 0
  bad = 0
  statuses = ""
end
function request()
  n = n + 1
  local path = paths[((n * 7 + id * 13) %% #paths) + 1]
  local header = headers[((n * 3 + id * 5) %% #headers) + 1]
  return wrk.format("GET", path, header)
end
%(delay)s
function response(status, hdrs, body)
  if status ~= 200 and status ~= %(also_ok)d then
    bad = bad + 1
    if #statuses < 200 then statuses = statuses .. status .. " " end
  end
end
function done(summary, latency, requests)
  local b, seen = 0, ""
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    seen = seen .. t:get("statuses")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "seconds": %%.3f, "p50_ms": %%.2f, "p95_ms": %%.2f, "p99_ms": %%.2f, "max_ms": %%.2f, ' ..
    '"bad_status": %%d, "socket_errors": %%d, "statuses": "%%s"}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, b, e.connect + e.read + e.write + e.timeout, seen))
end
"""


def lua_list(items) -> str:
    return ", ".join(json.dumps(item) for item in items)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cluster_url(database_url: str, name: str) -> str:
    parts = urlsplit(database_url)
    return parts._replace(path=f"/{name}").geturl()


class ConnectionSampler(threading.Thread):
    """Peak PostgreSQL client connections (cluster and panel database) while the load runs."""

    def __init__(self, url: str, database: str):
        super().__init__(daemon=True)
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.database = database
        self.max_connections = int(self.conn.execute("SHOW max_connections").fetchone()[0])
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.peak_cluster = 0
            self.peak_database = 0

    def sample(self) -> tuple[int, int]:
        cluster, database = self.conn.execute(
            "SELECT count(*) FILTER (WHERE pid <> pg_backend_pid()), "
            "count(*) FILTER (WHERE datname = %s AND pid <> pg_backend_pid()) "
            "FROM pg_stat_activity WHERE backend_type = 'client backend'",
            [self.database],
        ).fetchone()
        return cluster, database

    def run(self):
        while not self.stop.wait(0.2):
            cluster, database = self.sample()
            with self.lock:
                self.peak_cluster = max(self.peak_cluster, cluster)
                self.peak_database = max(self.peak_database, database)


def start_panel(args, database_url: str, redis_url: str | None) -> tuple[subprocess.Popen, str, str]:
    """`bin/dev up` on a fresh load database (or `--database` as it is) and free loopback ports; returns the
    process, the base URL and the client APIs' base URL."""
    import psycopg

    env = dict(os.environ)
    if args.database:
        env["BARTENDER_DEMO"] = "0"
    else:
        with psycopg.connect(cluster_url(database_url, "postgres"), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [LOAD_DB],
            )
            conn.execute(f"DROP DATABASE IF EXISTS {LOAD_DB}")
            conn.execute(f"CREATE DATABASE {LOAD_DB}")
    port, api_port = free_port(), free_port()
    env.update(
        DATABASE_URL=cluster_url(database_url, args.database or LOAD_DB),
        HOST="127.0.0.1",
        PORT=str(port),
        API_PORT=str(api_port),
        DEMO_HEALTH_PORT=str(free_port()),
        DEMO_PROMETHEUS_PORT=str(free_port()),
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    log = open(ROOT / ".var" / "load-server.log", "w")  # noqa: SIM115 (kept open for the child's lifetime)
    proc = subprocess.Popen(  # noqa: S603
        [str(ROOT / "bin" / "dev"), "up"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base, api_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{api_port}"
    deadline = time.monotonic() + args.start_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bin/dev up ended with {proc.returncode}; see .var/load-server.log")
        try:
            status, _, _ = get(base, "/accounts/login/")
            if status == 200 and get(api_base, "/api/openapi.json")[0] == 200:
                return proc, base, api_base
        except OSError:
            pass
        time.sleep(0.5)
    stop_panel(proc)
    raise SystemExit(f"the panel did not answer within {args.start_timeout} s; see .var/load-server.log")


def stop_panel(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def get(base: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def login(base: str, username: str) -> tuple[str | None, float, int]:
    """The login page as a browser uses it: GET (CSRF cookie and token), POST; returns the session cookie."""
    parts = urlsplit(base)
    started = time.perf_counter()
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request("GET", "/accounts/login/")
        response = conn.getresponse()
        page = response.read().decode()
        csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie", "")).group(1)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        body = f"csrfmiddlewaretoken={token}&username={username}&password={PASSWORD}"
        conn.request(
            "POST",
            "/accounts/login/",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"csrftoken={csrf_cookie}",
                "Referer": f"{base}/accounts/login/",
            },
        )
        response = conn.getresponse()
        response.read()
        session = re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie", "") or "")
        seconds = time.perf_counter() - started
        return (session.group(1) if session and response.status == 302 else None), seconds, response.status
    finally:
        conn.close()


def prepare_data(database_url: str, users: int) -> tuple[str, list[str]]:
    """Load users (support staff) and a flag API token, straight in the load database."""
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    from adminpanel.config import local_secret_key

    os.environ.setdefault("SECRET_KEY", local_secret_key(ROOT / ".var"))
    import django

    django.setup()
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import Group

    from adminpanel.models import ApiClient, Bar, User

    support = Group.objects.get(name="support")
    hashed = make_password(PASSWORD)
    for i in range(users):
        user, _ = User.objects.update_or_create(username=f"load_user_{i:02d}", defaults={"password": hashed})
        user.groups.add(support)
    ApiClient.objects.filter(name="load-test").delete()
    client = ApiClient(name="load-test", all_bars=True)
    raw = client.issue_token()
    client.save()
    bars = [str(pk) for pk in Bar.objects.order_by("pk").values_list("pk", flat=True)]
    from django.db import connection

    connection.close()
    return raw, bars


def run_wrk(
    base: str,
    *,
    connections: int,
    seconds: int,
    paths: list[str],
    headers: list[dict],
    also_ok: int,
    interval_ms: float = 0,
) -> dict:
    """wrk's figures; with interval_ms each connection waits that long between its requests (a device polling),
    else it sends the next one as soon as the answer is in (as much as the server takes)."""
    script = WRK_SCRIPT % {
        "delay": f"function delay() return {interval_ms:g} end" if interval_ms else "",
        "paths": lua_list(paths),
        "headers": ", ".join(
            "{" + ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in h.items()) + "}" for h in headers
        ),
        "also_ok": also_ok,
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        done = subprocess.run(  # noqa: S603
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", handle.name, base],  # noqa: S607
            capture_output=True,
            text=True,
            timeout=seconds + 60,
        )
    finally:
        os.unlink(handle.name)
    line = [row for row in done.stdout.splitlines() if row.startswith("{")]
    if done.returncode != 0 or not line:
        raise SystemExit(f"wrk failed: {done.stdout}\n{done.stderr}")
    return json.loads(line[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=30, help="length of each load phase (default 30)")
    parser.add_argument("--users", default="10,50", help="logged-in user counts, one phase each (default 10,50)")
    parser.add_argument("--api-clients", type=int, default=50, help="concurrent flag API clients (default 50)")
    parser.add_argument(
        "--api-rate",
        type=float,
        default=500,
        help="requests per second of all API clients together while they poll (default 500: 10,000 devices every "
        "20 s); a last phase has them send as fast as the server answers",
    )
    parser.add_argument("--url", help="a panel already served on loopback (default: start one like bin/dev up)")
    parser.add_argument("--api-url", help="its client APIs' server (default: --url)")
    parser.add_argument("--database", help="serve this existing database as it is instead of a fresh demo one")
    parser.add_argument("--start-timeout", type=int, default=300)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    user_counts = [int(n) for n in args.users.split(",") if n.strip()]
    port = os.environ.get("BARTENDER_PG_PORT", "25432")
    database_url = os.environ.get("DATABASE_URL") or f"postgresql://bartender@127.0.0.1:{port}/bartender"
    redis_url = os.environ.get("REDIS_URL")

    proc = None
    if args.url:
        if urlsplit(args.url).hostname not in LOOPBACK:
            raise SystemExit("load is only ever sent to a loopback address")
        base, load_url = args.url.rstrip("/"), database_url
        api_base = (args.api_url or args.url).rstrip("/")
    else:
        if not os.environ.get("DATABASE_URL"):
            subprocess.run([str(ROOT / "bin" / "dev"), "services", "start"], check=True)  # noqa: S603
        what = f"database {args.database} as it is" if args.database else f"a fresh {LOAD_DB} database"
        print(f"starting the panel as bin/dev up does, on {what} …", flush=True)
        started = time.monotonic()
        proc, base, api_base = start_panel(args, database_url, redis_url)
        load_url = cluster_url(database_url, args.database or LOAD_DB)
        print(f"serving on {base}, client APIs on {api_base}, after {time.monotonic() - started:.0f} s", flush=True)
    try:
        token, bars = prepare_data(load_url, max(user_counts))
        sampler = ConnectionSampler(cluster_url(load_url, "postgres"), urlsplit(load_url).path.lstrip("/"))
        sampler.start()
        budget = int(sampler.max_connections * 0.8)
        rows, failed = [], False
        api_paths = [f"/api/v1/flags?bar={bar}" for bar in bars]
        poll_ms = args.api_clients * 1000 / args.api_rate  # each client's wait between two polls

        def load_pages(sessions: list[str], connections: int) -> dict:
            """wrk over the main pages, the users' session cookies spread over the connections."""
            return run_wrk(
                base,
                connections=connections,
                seconds=args.seconds,
                paths=PAGES,
                headers=[{"Cookie": f"sessionid={s}"} for s in sessions],
                also_ok=200,
            )

        def load_api(interval_ms: float) -> dict:
            """wrk's API clients on the flag API across all bars (polling, or flat out with interval_ms=0)."""
            return run_wrk(
                api_base,
                connections=args.api_clients,
                seconds=args.seconds,
                paths=api_paths,
                headers=api_headers,
                also_ok=304,
                interval_ms=interval_ms,
            )
        api_headers = [{"Authorization": f"Bearer {token}"}]
        sessions: list[str] = []
        for users in user_counts:
            sampler.reset()
            # Each login hashes its password (PBKDF2, 1.5M iterations: about a second of CPU), so they go in at most
            # LOGIN_CONCURRENCY at a time, like people arriving, not 50 in the same instant.
            with ThreadPoolExecutor(LOGIN_CONCURRENCY) as pool:
                results = list(pool.map(lambda i: login(base, f"load_user_{i:02d}"), range(users)))
            sessions = [r[0] for r in results if r and r[0]]
            login_errors = users - len(sessions)
            login_ms = sorted(r[1] * 1000 for r in results if r)
            for path in PAGES:  # every page answers 200 to these users before the load starts
                status, _, _ = get(base, path, {"Cookie": f"sessionid={sessions[0]}"})
                if status != 200:
                    raise SystemExit(f"{path} answered {status} to a logged-in support user")
            figures = load_pages(sessions, users)
            figures.update(
                phase=f"{users} users, main pages",
                login_errors=login_errors,
                login_p50_ms=statistics.median(login_ms),
                login_max_ms=login_ms[-1],
                target=("p95_ms", PAGES_P95_MS[0] if users <= 10 else PAGES_P95_MS[1]),
            )
            rows.append((figures, sampler.peak_cluster, sampler.peak_database))
        # The largest user count on the pages and the API clients at the same time: the API's own server keeps up.
        sampler.reset()
        with ThreadPoolExecutor(2) as pool:
            pages_run = pool.submit(load_pages, sessions, len(sessions))
            api_run = pool.submit(load_api, poll_ms)
            pages_figures, api_figures = pages_run.result(), api_run.result()
        pages_figures.update(
            phase=f"{len(sessions)} users + API, pages", login_errors=0, target=("p95_ms", PAGES_P95_MS[1])
        )
        api_figures.update(
            phase=f"{args.api_clients} polling + users, API", login_errors=0, target=("p99_ms", API_P99_MS)
        )
        rows.append((pages_figures, sampler.peak_cluster, sampler.peak_database))
        rows.append((api_figures, sampler.peak_cluster, sampler.peak_database))
        for interval_ms, phase, target in (
            (poll_ms, f"{args.api_clients} polling, flag API", ("p99_ms", API_P99_MS)),
            # As fast as the server answers: its throughput, and no error at saturation (latency is queueing there).
            (0, f"{args.api_clients} flat out, flag API", None),
        ):
            sampler.reset()
            figures = load_api(interval_ms)
            figures.update(phase=phase, login_errors=0, target=target)
            rows.append((figures, sampler.peak_cluster, sampler.peak_database))
        held_after = sampler.sample()
        sampler.stop.set()

        print(
            f"\nwrk -t2, {args.seconds} s per phase; PostgreSQL max_connections={sampler.max_connections}, "
            f"80 % = {budget}; {len(bars)} bars"
        )
        print(
            f"{'phase':32} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} "
            f"{'peak conns (cluster / panel db)':>32}"
        )
        for figures, peak_cluster, peak_database in rows:
            errors = figures["bad_status"] + figures["socket_errors"] + figures["login_errors"]
            metric, limit = figures["target"] or ("", None)
            ok = errors == 0 and peak_cluster <= budget and (limit is None or figures[metric] < limit)
            wanted = f"{metric.replace('_ms', '')} < {limit} ms" if limit else "0 errors"
            failed |= not ok
            print(
                f"{figures['phase']:32} {figures['requests'] / figures['seconds']:8.0f} {figures['p50_ms']:8.1f} "
                f"{figures['p95_ms']:8.1f} {figures['p99_ms']:8.1f} {errors:7d} "
                f"{peak_cluster:>15} / {peak_database:<4} {wanted} "
                f"{'ok' if ok else 'FAIL'}"
            )
            if figures.get("statuses"):
                print(f"    unexpected statuses seen: {figures['statuses']}")
            if "login_p50_ms" in figures:
                print(f"    logins: p50 {figures['login_p50_ms']:.0f} ms, slowest {figures['login_max_ms']:.0f} ms")
        print(f"connections held right after the load: {held_after[0]} in the cluster, {held_after[1]} to the panel")
        print("PASS" if not failed else "FAIL: errors, a latency target missed, or more than 80 % of max_connections")
        return 1 if failed else 0
    finally:
        if proc is not None:
            stop_panel(proc)


if __name__ == "__main__":
    sys.exit(main())
