"""Issue 20: the panel beside Supabase's pooler. Debian's PgBouncer runs in transaction mode in front of the test
cluster, and the suite's flag-cache, token-cache and backfill tests run through it in a pytest of their own
(``DATABASE_URL`` = the bouncer, ``DATABASE_POOLED=1``, ``DATABASE_DIRECT_URL`` = PostgreSQL itself for LISTEN and
the session advisory locks). They pass, and the bouncer's own statistics show their transactions went through it.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from adminpanel import db_sessions

ROOT = Path(__file__).resolve().parent.parent
PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
THROUGH_THE_POOLER = [
    "tests/rollout/test_flag_cache.py",
    "tests/test_api_auth.py",
    "tests/backfill/test_backfill.py",
    "tests/backfill/test_parallel.py",
    "tests/backfill/test_recovery.py",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_service_user(command: list[str], directory: Path) -> list[str]:
    """PgBouncer refuses to run as root: as root (CI), it runs as the `postgres` system user, like bin/dev's
    PostgreSQL, owning its directory."""
    if os.geteuid() != 0:
        return command
    shutil.chown(directory, "postgres")
    directory.chmod(0o755)
    return ["runuser", "-u", "postgres", "--", *command]


@pytest.fixture(scope="module")
def bouncer():
    """PgBouncer in transaction mode in front of the suite's PostgreSQL, on a free port; its admin console too."""
    if not Path(PGBOUNCER).exists():
        pytest.fail("pgbouncer is not installed (bin/dev test installs Debian's pgbouncer)")
    db = connection.settings_dict
    directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    port = _free_port()
    user = db["USER"] or "bartender"
    (directory / "users.txt").write_text(f'"{user}" "{db["PASSWORD"] or ""}"\n')
    (directory / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={db["HOST"] or "127.0.0.1"} port={db["PORT"] or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = {"plain" if db["PASSWORD"] else "trust"}
auth_file = {directory / "users.txt"}
pool_mode = transaction
max_client_conn = 400
default_pool_size = 20
admin_users = {user}
logfile = {directory / "pgbouncer.log"}
pidfile = {directory / "pgbouncer.pid"}
"""
    )
    command = _as_service_user([PGBOUNCER, str(directory / "pgbouncer.ini")], directory)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    admin = f"host=127.0.0.1 port={port} dbname=pgbouncer user={user}"
    deadline = time.monotonic() + 30
    while True:
        try:
            psycopg.connect(admin, autocommit=True, connect_timeout=2).close()
            break
        except psycopg.OperationalError:
            assert process.poll() is None, (directory / "pgbouncer.log").read_text()[-2000:]
            assert time.monotonic() < deadline, "pgbouncer did not accept connections within 30 s"
            time.sleep(0.1)
    yield {"port": port, "admin": admin, "user": user, "log": directory / "pgbouncer.log"}
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(directory, ignore_errors=True)


def _stats(admin: str) -> dict[str, int]:
    with psycopg.connect(admin, autocommit=True) as conn:
        cursor = conn.execute("SHOW STATS")
        columns = [c.name for c in cursor.description]
        return {row[0]: dict(zip(columns, row, strict=True))["total_xact_count"] for row in cursor.fetchall()}


def test_the_flag_token_and_backfill_paths_run_through_pgbouncer_in_transaction_mode(bouncer):
    db = connection.settings_dict
    host, port, user = db["HOST"] or "127.0.0.1", db["PORT"] or "5432", bouncer["user"]
    name = f"test_bartender_pooled_{os.getpid()}"
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{user}{password}@127.0.0.1:{bouncer['port']}/{db['NAME']}",
        "DATABASE_POOLED": "1",
        "DATABASE_DIRECT_URL": f"postgresql://{user}{password}@{host}:{port}/{name}",
        "TEST_DATABASE_NAME": name,
    }
    try:
        done = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reuse-db", *THROUGH_THE_POOLER],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
        assert " passed" in done.stdout and " failed" not in done.stdout
        # The tests' transactions went through the bouncer, to the test database.
        assert _stats(bouncer["admin"]).get(name, 0) > 500
    finally:
        with psycopg.connect(f"host={host} port={port} dbname=postgres user={user}", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_direct_connection_params_follow_database_direct_url(settings):
    settings.DATABASE_DIRECT_URL = "postgresql://someone:secret@db.internal:5433/bartender"
    params = db_sessions.direct_connection_params()
    assert (params["host"], params["port"], params["dbname"], params["user"]) == (
        "db.internal", "5433", "bartender", "someone",
    )  # fmt: skip
    assert params["options"] == f"-c search_path={settings.PANEL_SCHEMA},public"
    assert "prepare_threshold" not in params
    settings.DATABASE_DIRECT_URL = ""
    assert db_sessions.direct_connection_params()["dbname"] == connection.settings_dict["NAME"]
