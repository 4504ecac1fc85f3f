"""Every page, the cockpit first, says "checks are stale / no worker" when beat's health runs or the worker's
heartbeats stopped (issue 22), from two database reads: never a broker round-trip per page view."""

from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.health import freshness
from monitoring.models import HealthRun, WorkerHeartbeat
from tests.factories import make_product

pytestmark = pytest.mark.django_db

PAGES = ["/", "/monitoring/", "/rollout/"]


@pytest.fixture(autouse=True)
def no_broker(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a page view asked the broker")

    monkeypatch.setattr("config.celery.app.control.ping", refuse)
    monkeypatch.setattr("config.celery.app.connection_for_write", refuse)


def alive(*, run_minutes_ago=1, heartbeat_seconds_ago=5):
    now = timezone.now()
    at = now - timedelta(minutes=run_minutes_ago)
    HealthRun.objects.create(trigger=HealthRun.Trigger.SCHEDULE, started_at=at, finished_at=at, status="ok")
    freshness.record_heartbeat("celery@test", now=now - timedelta(seconds=heartbeat_seconds_ago))


def banner(client, path):
    response = client.get(path)
    assert response.status_code == 200, path
    html = response.content.decode()
    return 'id="pipeline-banner"' in html, html


def test_no_banner_while_runs_and_heartbeats_are_fresh(client, settings):
    client.force_login(make_product())
    alive()
    for path in PAGES:
        shown, _ = banner(client, path)
        assert not shown, path


def test_cockpit_and_every_page_say_no_worker_when_heartbeats_stop(client, settings):
    settings.WORKER_STALE_AFTER_SECONDS = 90
    client.force_login(make_product())
    alive(heartbeat_seconds_ago=91)
    for path in PAGES:
        shown, html = banner(client, path)
        assert shown, path
        assert "No worker: no Celery worker has done any work since" in html
        assert "Checks are stale" not in html


def test_banner_says_checks_are_stale_after_two_intervals(client, settings):
    settings.HEALTH_STALE_AFTER_MINUTES = 10
    client.force_login(make_product())
    alive(run_minutes_ago=11)
    shown, html = banner(client, "/")
    assert shown
    assert "Checks are stale: the last health run finished" in html
    assert "No worker" not in html


def test_nothing_ever_ran_shows_both(client):
    client.force_login(make_product())
    shown, html = banner(client, "/")
    assert shown
    assert "no Celery worker has done any work yet" in html
    assert "no health run has finished yet" in html


def test_the_heartbeat_task_stamps_the_worker_row(settings):
    from monitoring import tasks

    settings.CELERY_TASK_ALWAYS_EAGER = True
    tasks.heartbeat.apply(task_id="t1")
    assert WorkerHeartbeat.objects.count() == 1
    assert not freshness.pipeline_state().no_worker


def test_the_banner_never_breaks_a_page_when_its_read_fails(client, monkeypatch):
    from django.db import OperationalError

    def fail(**kwargs):
        raise OperationalError("the database went away")

    client.force_login(make_product())
    monkeypatch.setattr(freshness, "pipeline_state", fail)
    shown, _ = banner(client, "/")
    assert not shown
