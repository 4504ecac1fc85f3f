"""Recovery without a person (issue 10): a run whose whole worker died is driven again by the watchdog (beat or
worker start), a live driver is left alone, and a run started while Redis is down fails at once with a clear
message instead of staying "running" and blocking every new run."""

import time
from datetime import timedelta

import psycopg
import pytest
from celery.signals import worker_ready
from django.conf import settings as django_settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from adminpanel import db_sessions
from adminpanel.models import PanelEvent
from backfill import recovery, tasks
from backfill.backfill import run_backfill, run_batches, start_backfill
from backfill.models import BackfillRun
from backfill.ranges import LOCK_KEY
from tests.factories import confirmed_full_backfill, snapshot

CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


def eventually(predicate, timeout: float = 10.0) -> bool:
    """Wait for the server to notice a closed connection (its backend exits just after the client leaves)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def died_mid_run(scenario) -> BackfillRun:
    """A run that did one batch and whose worker then died: still 'running', cursor idle, nobody holding its lock."""
    run = start_backfill(batch_size=2, via=BackfillRun.Via.TASK)
    run_batches(run_id=run.pk, max_batches=1)
    stale = timezone.now() - timedelta(seconds=django_settings.BACKFILL_STALLED_AFTER_SECONDS + 5)
    BackfillRun.objects.filter(pk=run.pk).update(updated_at=stale)
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.RUNNING and run.batches == 1
    return run


@pytest.fixture
def queued(monkeypatch):
    """Runs the watchdog hands over, instead of a broker."""
    handed = []

    def enqueue(run_id, **kwargs):
        handed.append(run_id)
        return True

    monkeypatch.setattr(tasks, "enqueue_backfill", enqueue)
    return handed


def test_the_watchdog_drives_a_run_whose_worker_died_to_the_same_end_as_an_unbroken_run(scenario, eager_celery):
    with transaction.atomic():  # what an unbroken run ends with, then rolled back
        run_backfill(batch_size=2)
        unbroken = snapshot()
        transaction.set_rollback(True)
    run = died_mid_run(scenario)
    assert tasks.redrive_stalled_backfills(trigger="schedule") == [run.pk]
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.FINISHED
    assert snapshot() == unbroken
    event = PanelEvent.objects.get(action=recovery.REDRIVE)
    assert event.actor is None and event.after == {"status": "running", "queued_by": "schedule"}
    assert "no worker driving it" in event.reason


def test_a_worker_start_queues_the_watchdog_which_drives_the_run(scenario, eager_celery):
    run = died_mid_run(scenario)
    BackfillRun.objects.filter(pk=run.pk).update(updated_at=timezone.now())  # died a moment ago
    worker_ready.send(sender=None)
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.FINISHED
    assert PanelEvent.objects.get(action=recovery.REDRIVE).after["queued_by"] == "worker start"


def test_a_run_a_live_worker_drives_is_left_alone(scenario, queued):
    run = died_mid_run(scenario)
    # A live worker takes its session locks where the panel does: on a direct connection (DATABASE_DIRECT_URL).
    with psycopg.connect(**db_sessions.direct_connection_params(), autocommit=True) as live_worker:
        live_worker.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_KEY, run.pk])
        assert recovery.is_driven(run.pk)
        assert tasks.redrive_stalled_backfills(trigger="schedule") == []
    assert eventually(lambda: not recovery.is_driven(run.pk))  # the lock dies with the worker's connection
    assert tasks.redrive_stalled_backfills(trigger="schedule") == [run.pk]
    assert queued == [run.pk]


def test_a_run_that_moved_recently_or_is_not_running_is_left_alone(scenario, queued):
    run = died_mid_run(scenario)
    BackfillRun.objects.filter(pk=run.pk).update(updated_at=timezone.now())
    assert tasks.redrive_stalled_backfills(trigger="schedule") == []
    an_hour_ago = timezone.now() - timedelta(hours=1)
    BackfillRun.objects.filter(pk=run.pk).update(status=BackfillRun.Status.PAUSED, updated_at=an_hour_ago)
    assert tasks.redrive_stalled_backfills(trigger="schedule") == []
    assert queued == [] and not PanelEvent.objects.filter(action=recovery.REDRIVE).exists()


def test_a_run_handed_over_is_not_handed_over_again_within_the_stall_period(scenario, queued):
    run = died_mid_run(scenario)
    assert tasks.redrive_stalled_backfills(trigger="schedule") == [run.pk]
    assert tasks.redrive_stalled_backfills(trigger="schedule") == []  # no worker took it yet: no pile of copies
    later = timezone.now() + timedelta(seconds=django_settings.BACKFILL_STALLED_AFTER_SECONDS + 1)
    idle = django_settings.BACKFILL_STALLED_AFTER_SECONDS
    assert recovery.redrive_stalled_runs(idle_seconds=idle, enqueue=tasks.enqueue_backfill, trigger="t", now=later) == [
        run.pk
    ]
    assert queued == [run.pk, run.pk]


def test_beat_runs_the_watchdog_every_stall_period_and_drops_missed_ticks():
    entry = django_settings.CELERY_BEAT_SCHEDULE["backfill-watchdog"]
    assert entry["task"] == tasks.REDRIVE_TASK
    assert entry["schedule"] == django_settings.BACKFILL_STALLED_AFTER_SECONDS
    assert entry["options"]["expires"] < entry["schedule"]


def test_a_run_started_while_redis_is_down_fails_at_once_says_why_and_blocks_no_new_run(
    scenario, product_user, client_for, settings
):
    settings.CELERY_BROKER_URL = CLOSED_PORT_BROKER
    client = client_for(product_user)
    page = confirmed_full_backfill(client, {"batch_size": 2}, follow=True).content.decode()
    run = BackfillRun.objects.get()
    assert run.status == BackfillRun.Status.FAILED
    assert run.error == recovery.UNQUEUED_MESSAGE
    assert "could not be reached" in page and "Resume it once the queue is back" in page
    assert f"Backfill run {run.pk} started." not in page
    event = PanelEvent.objects.get(action=recovery.UNQUEUED)
    assert event.actor == product_user and event.after == {"status": "failed"}

    # Resuming while Redis is still down fails the same way; it never stays "running".
    client.post(reverse("backfill:backfill_resume", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.FAILED

    # Nothing blocks a new run (Redis back: eagerly, here).
    settings.CELERY_BROKER_URL = django_settings.REDIS_URL
    assert start_backfill(batch_size=2).status == BackfillRun.Status.RUNNING
