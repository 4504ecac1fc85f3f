"""Celery tasks of monitoring: the health-check run (beat every 5 minutes, or on demand) and the incident clock
(beat every minute: impact refresh, reminders, escalation, delivery)."""

import logging
import uuid

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from kombu.exceptions import OperationalError

from monitoring.health import freshness, services
from monitoring.incidents import escalation

logger = logging.getLogger(__name__)

RUN_HEALTH_CHECKS = "monitoring.run_health_checks"
INCIDENT_CLOCK = "monitoring.incident_clock"
HEARTBEAT = "monitoring.heartbeat"


@shared_task(
    name=RUN_HEALTH_CHECKS,
    bind=True,
    acks_late=True,  # idempotent: a redelivered task finds its run by task id and does nothing
    reject_on_worker_lost=True,
    time_limit=settings.HEALTH_TASK_TIME_LIMIT,
    soft_time_limit=settings.HEALTH_TASK_TIME_LIMIT - 10,
    ignore_result=True,
)
def run_health_checks(self, trigger: str = "schedule", triggered_by_id=None):
    """Run the suite once (skipped when another run holds the lock); returns the run's id or None."""
    from adminpanel.models import User

    user = User.objects.filter(pk=triggered_by_id).first() if triggered_by_id else None
    run = services.run_health_checks(trigger=trigger, triggered_by=user, task_id=self.request.id)
    return run.pk if run else None


def enqueue_health_run(*, user=None, queue: str | None = None) -> str | None:
    """Queue an on-demand run and return its task id; None when the broker (``CELERY_BROKER_URL``, read at call
    time) cannot be reached."""
    task_id = str(uuid.uuid4())
    options = {
        "kwargs": {"trigger": "manual", "triggered_by_id": str(user.pk) if user else None},
        "task_id": task_id,
        "retry": False,
    }
    if queue:
        options["queue"] = queue
    if run_health_checks.app.conf.task_always_eager:
        run_health_checks.apply_async(**options)
        return task_id
    try:
        with run_health_checks.app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=0)  # fail fast: the caller falls back to running in-process
            run_health_checks.apply_async(connection=conn, **options)
    except (OperationalError, OSError) as exc:
        logger.warning("health run not queued, broker unreachable: %s", exc)
        return None
    return task_id


@shared_task(
    name=INCIDENT_CLOCK,
    # A tick redone after a lost worker changes nothing twice: reminders and escalations are unique per incident
    # and time, and delivered notifications are skipped.
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.HEALTH_TASK_TIME_LIMIT,
    soft_time_limit=settings.HEALTH_TASK_TIME_LIMIT - 10,
    ignore_result=True,
)
def incident_clock():
    """One tick of the incident clock; a summary of what it did, or None when another tick was running."""
    tick = escalation.run_incident_clock()
    if tick is None:
        return None
    return {
        "refreshed": tick.refreshed,
        "reminders": len(tick.reminders),
        "escalations": len(tick.escalations),
        "delivered": tick.delivered,
    }


@shared_task(name=HEARTBEAT, bind=True, ignore_result=True, time_limit=30, soft_time_limit=20)
def heartbeat(self):
    """Beat's proof that the pipeline does work: a worker stamps its row (every page reads the newest)."""
    freshness.record_heartbeat(self.request.hostname or "worker")


@worker_ready.connect(dispatch_uid="monitoring.heartbeat_on_worker_ready")
def heartbeat_when_a_worker_starts(sender=None, **kwargs) -> None:
    """A (re)started worker says so through the queue at once (the banner clears without waiting for beat's tick)."""
    try:
        heartbeat.apply_async(retry=False, expires=settings.WORKER_HEARTBEAT_SECONDS)
    except (OperationalError, OSError) as exc:  # the broker went away again: beat's tick will do it
        logger.warning("heartbeat not queued at worker start: %s", exc)
