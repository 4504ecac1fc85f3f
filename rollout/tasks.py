"""Celery tasks of the rollout: the autopilot's tick (beat, every ROLLOUT_AUTOPILOT_INTERVAL_SECONDS)."""

from celery import shared_task
from django.conf import settings

from rollout import autopilot

AUTOPILOT_TICK = "rollout.autopilot_tick"


@shared_task(
    name=AUTOPILOT_TICK,
    # Safe to redeliver: a tick re-judges everything under its lock, and the soak gates stop a second step.
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=settings.ROLLOUT_AUTOPILOT_TASK_TIME_LIMIT,
    soft_time_limit=settings.ROLLOUT_AUTOPILOT_TASK_TIME_LIMIT - 10,
    ignore_result=True,
)
def autopilot_tick():
    """One autopilot decision; returns what it did ("advanced", "waiting", "paused", …)."""
    return autopilot.tick().action
