"""Celery tasks of the rollout: the autopilot's tick (beat, every ROLLOUT_AUTOPILOT_INTERVAL_SECONDS) and the
runbook steps the panel runs (backup, flags off, load test, rollback rehearsal, Phase 3 check).

A runbook step is not acks_late: it has effects outside the database (a file, load, the kill switch), so a task
lost with its worker is not run again by itself; the run shows as stalled and a person asks again. A redelivered
message finds its run claimed already and does nothing (rollout.runbook.execute_run claims queued → running once).
"""

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from rollout import autopilot, cohort_compare, runbook

logger = logging.getLogger(__name__)

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


@shared_task(
    name="rollout.run_runbook_step",
    acks_late=False,
    ignore_result=True,
    time_limit=settings.RUNBOOK_TASK_TIME_LIMIT,
    soft_time_limit=settings.RUNBOOK_TASK_TIME_LIMIT - 30,
)
def run_runbook_step(run_id: int):
    """Do one queued runbook run; returns its status (or None when it was not queued any more)."""
    run = runbook.execute_run(run_id=run_id)
    return run.status if run else None


def enqueue_run(run) -> bool:
    """Hand the run to the workers (in-process when CELERY_TASK_ALWAYS_EAGER); when the broker (CELERY_BROKER_URL,
    read at call time) cannot be reached the run fails at once with what to do instead. Returns whether it went."""
    if run_runbook_step.app.conf.task_always_eager:
        run_runbook_step.apply_async(args=(run.pk,))
        return True
    try:
        with run_runbook_step.app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=0)  # fail fast: the person is waiting for the page
            result = run_runbook_step.apply_async(args=(run.pk,), connection=conn, retry=False)
    except (OperationalError, OSError) as exc:
        logger.warning("runbook run %s not queued, broker unreachable: %s", run.pk, exc)
        runbook.mark_unqueued(run_id=run.pk, error="The task broker (Redis) is unreachable.")
        return False
    type(run).objects.filter(pk=run.pk, task_id="").update(task_id=result.id or "")
    return True
