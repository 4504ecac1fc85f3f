"""Serving as production does: the connection budget checked before serving, collectstatic with hashed names,
and granian holding no more PostgreSQL connections than its fixed workers x threads, however many clients come."""

import http.client
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from adminpanel.serving import ConnectionBudget, connection_budget

ROOT = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent


def budget(**sizes) -> ConnectionBudget:
    values = {
        "web_workers": 2,
        "web_threads": 4,
        "celery_concurrency": 2,
        "headroom": 5,
        "max_connections": 100,
        "limit_pct": 80.0,
    }
    return ConnectionBudget(**{**values, **sizes})


def test_the_budget_counts_threads_listeners_celery_beat_and_headroom():
    default = budget()
    assert default.web == 2 * (4 + 1)
    assert default.celery == 2 + 2
    assert default.needed == 10 + 4 + 5
    assert default.limit == 80
    assert default.fits
    assert "19 at most" in default.explain()


def test_the_budget_refuses_past_eighty_percent_and_says_what_to_change():
    too_big = budget(web_workers=8, web_threads=10)  # 88 + 4 + 5 = 97 > 80
    assert not too_big.fits
    message = too_big.explain()
    assert "refusing to serve: 97 PostgreSQL connections" in message
    assert "80 % of max_connections=100" in message
    assert "WEB_WORKERS, WEB_THREADS, API_WORKERS, API_THREADS or CELERY_CONCURRENCY" in message
    assert budget(web_workers=8, web_threads=10, max_connections=200).fits


def test_the_budget_counts_the_client_apis_own_server():
    with_api = budget(api_workers=1, api_threads=4)
    assert with_api.api == 1 * (4 + 1)
    assert with_api.needed == 10 + 5 + 4 + 5
    assert "1 API worker(s) x (4 threads + 1 flag listener) = 5" in with_api.explain()
    assert budget(web_workers=6, web_threads=10).fits  # 66 + 4 + 5 = 75
    assert not budget(web_workers=6, web_threads=10, api_workers=2, api_threads=4).fits  # 75 + 10 = 85 > 80


def test_check_serving_refuses_with_exit_2(settings):
    settings.WEB_WORKERS, settings.WEB_THREADS = 8, 10
    err = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("check_serving", "--max-connections", "100", stderr=err)
    assert exited.value.code == 2
    assert "refusing to serve" in err.getvalue()


@pytest.mark.django_db
def test_check_serving_reads_max_connections_from_postgresql(settings):
    settings.WEB_WORKERS, settings.WEB_THREADS, settings.CELERY_WORKER_CONCURRENCY = 1, 2, 1
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        maximum = int(cursor.fetchone()[0])
    assert connection_budget().max_connections == maximum
    out = StringIO()
    call_command("check_serving", stdout=out)
    assert f"of max_connections={maximum}" in out.getvalue()


def test_collectstatic_with_the_production_storage_gives_hashed_compressed_files(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "0",
        "SECRET_KEY": "collectstatic-test-" + "k" * 40,
        "STATIC_ROOT": str(tmp_path),
    }
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    manifest = (tmp_path / "staticfiles.json").read_text()
    for name in ("css/panel.css", "css/logs.css", "js/panel.js", "monitoring/monitoring.css"):
        assert f'"{name}"' in manifest
        stem, suffix = name.rsplit(".", 1)
        hashed = list(tmp_path.glob(f"{stem}.*.{suffix}"))
        assert hashed, name
        assert Path(f"{hashed[0]}.gz").exists()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, headers: dict) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _panel_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_granian_holds_at_most_workers_times_threads_plus_listener_connections():
    """40 clients at once on a DB-reading endpoint of a 1 worker x 2 threads granian: at most 3 connections."""
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings", "DB_CONN_MAX_AGE": "600"}
    server = subprocess.Popen(  # noqa: S603
        [
            str(BIN / "granian"),
            *f"--interface wsgi --working-dir {ROOT} --host 127.0.0.1 --port {port} --workers 1 --blocking-threads 2"
            " --log-level warning --no-access-log config.wsgi:application".split(),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(port, "/accounts/login/", {}) == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "granian did not answer within 60 s"
            assert server.poll() is None, "granian exited"
            time.sleep(0.2)
        # A token lookup reads the database on every request (and is refused: nothing to set up).
        headers = {"Authorization": "Bearer 0000000000000000.not-a-token"}
        with ThreadPoolExecutor(40) as pool:
            statuses = list(pool.map(lambda _: _get(port, "/api/v1/flags?bar=x", headers), range(400)))
        assert set(statuses) == {401}
        assert 1 <= _panel_connections() <= 1 * (2 + 1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    deadline = time.monotonic() + 30
    while _panel_connections() and time.monotonic() < deadline:
        time.sleep(0.1)  # granian's connections end with its process; the test database is dropped after this
