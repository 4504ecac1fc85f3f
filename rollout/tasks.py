"""Celery tasks of the rollout: the autopilot's tick (beat, every ROLLOUT_AUTOPILOT_INTERVAL_SECONDS)."""

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from rollout import autopilot, cohort_compare

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
    """One autopilot decision, then (when the tick did not just read them) fresh cohort figures for the pages;
    returns what the autopilot did ("advanced", "waiting", "paused", "off", …)."""
    action = autopilot.tick().action
    cohort_compare.current_comparison(now=timezone.now(), max_age=settings.ROLLOUT_AUTOPILOT_INTERVAL_SECONDS * 0.9)
    return action
