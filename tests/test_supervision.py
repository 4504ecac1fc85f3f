"""bin/dev up with real processes (issue 22): a second instance refuses at once and changes nothing; supervisord
restarts a worker killed with -9 and the scheduled work (beat → worker) resumes; stopping takes < 10 s."""

import fcntl
import os
import signal
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from monitoring.models import WorkerHeartbeat

DEV = str(settings.BASE_DIR / "bin" / "dev")
VENV_BIN = settings.BASE_DIR / ".venv" / "bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(condition, what, timeout=90.0):
    """Poll `condition` until it is true (the event, not a fixed sleep); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def up(env, tmp_path):
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 (our own script)
        [DEV, "up"], env=env, capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL
    )
    return done, time.monotonic() - started


@pytest.fixture
def up_env(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    (log / "worker.log").write_text("the live worker's log\n")
    return {
        **os.environ,
        "BARTENDER_VAR": str(tmp_path),
        "PORT": str(free_port()),
        "DEMO_HEALTH_PORT": str(free_port()),
        # Were bring-up to go on, its first step (migrate) would fail on this database instead of refusing.
        "DATABASE_URL": "postgresql://bartender@127.0.0.1:1/nowhere",
    }


def assert_nothing_changed(tmp_path):
    assert (tmp_path / "log" / "worker.log").read_text() == "the live worker's log\n"
    assert not (tmp_path / "dev-up.pid").exists()
    assert not (tmp_path / "supervisord.conf").exists()


def test_a_second_up_on_a_busy_port_refuses_at_once_naming_port_and_owner(up_env, tmp_path):
    port = int(up_env["PORT"])
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", port))
        listener.listen()
        done, took = up(up_env, tmp_path)
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use by pid {os.getpid()} (" in done.stderr, done.stderr
    assert "nothing was changed" in done.stderr
    assert "migrate" not in done.stdout + done.stderr.replace("nothing was changed", "")
    assert took < 5
    assert_nothing_changed(tmp_path)


def test_a_second_up_of_the_same_checkout_refuses_naming_the_running_instance(up_env, tmp_path):
    (tmp_path / "dev-up.pid").write_text("pid 4242, http://127.0.0.1:8000/, started 2026-12-05T03:00:00Z\n")
    with open(tmp_path / "dev-up.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # what the running instance holds
        done, took = up(up_env, tmp_path)
    assert done.returncode == 1
    assert "bin/dev up is already running from this checkout (pid 4242, http://127.0.0.1:8000/" in done.stderr
    assert took < 5
    assert (tmp_path / "log" / "worker.log").read_text() == "the live worker's log\n"


def supervisorctl(conf, *args):
    done = subprocess.run(  # noqa: S603
        [str(VENV_BIN / "supervisorctl"), "-c", str(conf), *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.stdout.strip()


def program_pid(conf, name):
    out = supervisorctl(conf, "pid", f"bartender:{name}")
    return int(out) if out.isdigit() and int(out) > 0 else None


def newest_heartbeat():
    return WorkerHeartbeat.objects.order_by("-finished_at").values_list("finished_at", flat=True).first()


@pytest.mark.django_db(transaction=True)
def test_supervisord_restarts_a_killed_worker_and_the_scheduled_work_resumes(tmp_path):
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "BARTENDER_VAR": str(tmp_path),
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_CONCURRENCY": "1",
        "WORKER_HEARTBEAT_SECONDS": "1",
        "SECRET_KEY": "x" * 60,
    }
    conf = tmp_path / "supervisord.conf"
    supervisord = subprocess.Popen(  # noqa: S603 (bin/dev execs supervisord: this pid is supervisord's)
        [DEV, "supervise", "worker", "beat"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    pids = []
    try:
        wait_for(lambda: newest_heartbeat() or supervisord.poll() is not None, "a first heartbeat (beat → worker)")
        assert supervisord.poll() is None, "supervisord exited"
        worker = wait_for(lambda: program_pid(conf, "worker"), "the worker's pid")
        beat = program_pid(conf, "beat")
        os.kill(worker, signal.SIGKILL)
        killed_at = timezone.now()
        restarted = wait_for(
            lambda: (pid := program_pid(conf, "worker")) and pid != worker and pid, "supervisord to restart the worker"
        )
        pids = [restarted, beat]
        log = (tmp_path / "log" / "supervisord.log").read_text()
        assert "exited: worker (terminated by SIGKILL; not expected)" in log
        assert f"spawned: 'worker' with pid {restarted}" in log
        # Work done after the kill: beat's heartbeat task ran on the new worker.
        wait_for(
            lambda: (at := newest_heartbeat()) and at > killed_at + timedelta(milliseconds=1), "work after the kill"
        )
        # The restarted worker answers a ping: the healthcheck passes the broker and worker stages and stops at the
        # next one (no scheduled health run in this database yet).
        check = subprocess.run(  # noqa: S603
            [str(VENV_BIN / "python"), str(settings.BASE_DIR / "manage.py"), "healthcheck", "--ping-timeout", "5"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert check.returncode == 7, check.stderr
    finally:
        started = time.monotonic()
        supervisord.send_signal(signal.SIGTERM)
        supervisord.wait(timeout=30)
        stopped_in = time.monotonic() - started
        connection.close()
    assert stopped_in < 10
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_the_shipped_process_files_run_exactly_one_beat():
    deploy = settings.BASE_DIR / "deploy"
    procfile = [line for line in (deploy / "Procfile").read_text().splitlines() if line and not line.startswith("#")]
    assert sorted(line.split(":", 1)[0] for line in procfile) == ["api", "beat", "web", "worker"]
    beat = (deploy / "supervisor" / "beat.conf").read_text()
    assert "numprocs=1" in beat and "autorestart=true" in beat
    for name in ("web", "api", "worker", "beat"):
        unit = (deploy / "systemd" / f"bartender-{name}.service").read_text()
        assert "Restart=always" in unit
        assert "TimeoutStopSec=8" in unit  # stopped within 10 s


def test_sigterm_during_bring_up_stops_the_running_manage_step(up_env, tmp_path):
    """The step's database never answers (a socket that accepts and stays silent): migrate hangs in connect for up
    to connect_timeout (5 s), and SIGTERM to bin/dev up must stop it, not wait for it."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        env = {**up_env, "DATABASE_URL": f"postgresql://bartender@127.0.0.1:{silent.getsockname()[1]}/x"}
        dev = subprocess.Popen(  # noqa: S603
            [DEV, "up"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:

            def migrate_pid():
                children = subprocess.run(  # noqa: S603
                    ["pgrep", "-P", str(dev.pid), "-f", "manage.py migrate"],  # noqa: S607
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout.split()
                return int(children[0]) if children else None

            step = wait_for(lambda: migrate_pid() or dev.poll() is not None, "the migrate step", timeout=60)
            assert dev.poll() is None, dev.communicate()
            started = time.monotonic()
            dev.send_signal(signal.SIGTERM)
            out, err = dev.communicate(timeout=15)
            took = time.monotonic() - started
        finally:
            if dev.poll() is None:
                os.killpg(dev.pid, signal.SIGKILL)
    assert dev.returncode == 130, err
    assert took < 3
    assert "stopped" in err
    with pytest.raises(ProcessLookupError):
        os.kill(step, 0)
