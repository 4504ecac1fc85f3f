"""`manage.py healthcheck` fails with its own exit code and one line when the pipeline that runs the checks is dead
(issue 22): 5 the broker is unreachable, 6 no worker answers a ping, 7 beat's last run is older than two
intervals. A real worker answering is proved in tests/test_supervision.py (real processes)."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from monitoring.health import pipeline
from monitoring.models import HealthRun

pytestmark = pytest.mark.django_db


def run_command(capsys, **kwargs):
    with pytest.raises(SystemExit) as exc:
        call_command("healthcheck", **kwargs)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err.strip().splitlines()


def scheduled_run(minutes_ago):
    at = timezone.now() - timedelta(minutes=minutes_ago)
    return HealthRun.objects.create(trigger=HealthRun.Trigger.SCHEDULE, started_at=at, finished_at=at, status="ok")


@pytest.fixture
def worker_answers(monkeypatch):
    monkeypatch.setattr(pipeline, "answering_workers", lambda timeout: ["celery@test"])


def test_broker_down_exits_5_with_one_line_and_runs_no_check(settings, capsys):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nobody listens on port 1
    scheduled_run(1)
    code, out, err = run_command(capsys)
    assert code == pipeline.EXIT_BROKER_DOWN == 5
    assert out == ""
    assert len(err) == 1 and err[0].startswith("critical: the Celery broker at 127.0.0.1:1/0 is unreachable ("), err
    assert HealthRun.objects.count() == 1  # no check ran


def test_no_worker_answering_a_ping_exits_6(capsys):
    """The test run's real Redis (REDIS_URL) is up and no worker listens on it here."""
    scheduled_run(1)
    code, out, err = run_command(capsys, ping_timeout=0.5)
    assert code == pipeline.EXIT_NO_WORKER == 6
    assert err == ["critical: no Celery worker answered a ping within 0.5 s"]
    assert HealthRun.objects.count() == 1


def test_last_scheduled_run_older_than_two_intervals_exits_7(settings, capsys, worker_answers):
    settings.HEALTH_RUN_INTERVAL_SECONDS = 300
    settings.HEALTH_STALE_AFTER_MINUTES = 10
    scheduled_run(11)
    code, out, err = run_command(capsys)
    assert code == pipeline.EXIT_CHECKS_STALE == 7
    assert len(err) == 1 and err[0].startswith(
        "critical: checks are stale: the last scheduled health run finished 11 min ago"
    )


def test_runs_of_the_command_itself_do_not_hide_a_dead_beat(capsys, worker_answers):
    at = timezone.now() - timedelta(minutes=1)
    HealthRun.objects.create(trigger=HealthRun.Trigger.COMMAND, started_at=at, finished_at=at, status="ok")
    code, out, err = run_command(capsys)
    assert code == 7
    assert err == ["critical: checks are stale: no scheduled health run has finished (beat runs one every 5 min)"]


def test_with_a_live_pipeline_it_runs_the_checks_as_before(capsys, worker_answers):
    scheduled_run(9)  # within two intervals
    code, out, err = run_command(capsys, quiet=True)
    assert code == 0
    assert "health run" in out
    assert HealthRun.objects.filter(trigger=HealthRun.Trigger.COMMAND).count() == 1


def test_no_pipeline_skips_the_pipeline_checks(settings, capsys):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    code, out, err = run_command(capsys, quiet=True, no_pipeline=True)
    assert code == 0
