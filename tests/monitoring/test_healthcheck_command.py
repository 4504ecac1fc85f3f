import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.management import call_command

from monitoring.models import HealthRun

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def pipeline_alive(request, monkeypatch):
    """These tests are about the checks' exit codes: the pipeline (broker, worker, beat) is taken as alive;
    test_healthcheck_pipeline.py tests it."""
    monkeypatch.setattr("monitoring.health.pipeline.fault", lambda **kwargs: None)


def exit_code(**kwargs):
    with pytest.raises(SystemExit) as exc:
        call_command("healthcheck", **kwargs)
    return exc.value.code


def test_exit_code_is_0_when_all_is_ok(db, capsys):
    assert exit_code() == 0
    assert HealthRun.objects.get().trigger == "command"
    assert "server_id_coverage" in capsys.readouterr().out


def test_exit_code_is_1_on_a_warning_and_2_on_a_critical(make_sales, quick_notifications):
    make_sales(100, 97)
    assert exit_code(quiet=True) == 1
    make_sales(100, 80)
    assert exit_code(quiet=True) == 2


def test_exit_code_is_4_when_another_run_holds_the_lock(monkeypatch):
    monkeypatch.setattr("monitoring.health.services._try_lock", lambda: False)
    assert exit_code() == 4
    assert not HealthRun.objects.exists()


def test_with_the_database_unreachable_it_says_so_in_one_line_and_exits_3():
    """Run as cron runs it: a separate process whose DATABASE_URL points at a port nobody listens on."""
    env = {**os.environ, "DATABASE_URL": "postgresql://bartender@127.0.0.1:1/bartender"}
    done = subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
        [sys.executable, str(settings.BASE_DIR / "manage.py"), "healthcheck"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 3
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("unknown: the database is unreachable, no check ran (")
    assert "Traceback" not in done.stderr
