"""Celery tasks of the rollout: the autopilot's tick (beat, every ROLLOUT_AUTOPILOT_INTERVAL_SECONDS) and the
runbook steps the panel runs (backup, flags off, load test, rollback rehearsal, Phase 3 check).

A runbook step is not acks_late: it has effects outside the database (a file, load, the kill switch), so a task
lost with its worker is not run again by itself; the run shows as stalled and a person asks again. A redelivered
message finds its run claimed already and does nothing (rollout.runbook.runs.execute_run claims queued → running once).
"""

import logging

from celery import shared_task
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from rollout.backups import restores
from rollout.runbook import code_rollback, runs
from rollout.stages import autopilot, cohort_compare

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
    run = runs.execute_run(run_id=run_id)
    return run.status if run else None


def _send(task, args: tuple, *, what: str, on_unreachable) -> str | None:
    """Hand a task to the workers (in-process when CELERY_TASK_ALWAYS_EAGER); when the broker (CELERY_BROKER_URL,
    read at call time) cannot be reached, `on_unreachable(error)` says so at once. Returns the task id, or None."""
    if task.app.conf.task_always_eager:
        task.apply_async(args=args)
        return ""
    try:
        with task.app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=0)  # fail fast: the person is waiting for the page
            result = task.apply_async(args=args, connection=conn, retry=False)
    except (OperationalError, OSError) as exc:
        logger.warning("%s not queued, broker unreachable: %s", what, exc)
        on_unreachable("The task broker (Redis) is unreachable.")
        return None
    return result.id or ""


def enqueue_run(run) -> bool:
    """Hand the run to the workers; when the broker cannot be reached the run fails at once with what to do
    instead. Returns whether it went."""
    task_id = _send(run_runbook_step, (run.pk,), what=f"runbook run {run.pk}",
                    on_unreachable=lambda error: runs.mark_unqueued(run_id=run.pk, error=error))  # fmt: skip
    if task_id is None:
        return False
    if task_id:
        type(run).objects.filter(pk=run.pk, task_id="").update(task_id=task_id)
    return True


@shared_task(
    name="rollout.run_restore",
    acks_late=False,  # a restore is never started again by itself: a lost one shows as stopped, a person asks again
    ignore_result=True,
    time_limit=settings.RESTORE_TIMEOUT_SECONDS + 600,
    soft_time_limit=settings.RESTORE_TIMEOUT_SECONDS + 300,
)
def run_restore(restore_id: int):
    """Do one queued restore (dry run, rehearsal or Option C); returns its status (None: it was not queued)."""
    restore = restores.execute_restore(restore_id=restore_id)
    return restore.status if restore else None


def enqueue_restore(restore) -> bool:
    """Hand a queued restore to the workers; an unreachable broker fails it at once, in words."""
    return _send(run_restore, (restore.pk,), what=f"restore {restore.pk}",
                 on_unreachable=lambda error: restores.mark_unqueued(restore_id=restore.pk, error=error)) is not None  # noqa: E501  # fmt: skip


CODE_ROLLBACK_TIME_LIMIT = int(
    settings.PHASE3_POLL_TIMEOUT_SECONDS + settings.BARTENDER_DEPLOY_HOOK_TIMEOUT_SECONDS + 120
)


@shared_task(name="rollout.run_code_rollback", acks_late=False, ignore_result=True, time_limit=CODE_ROLLBACK_TIME_LIMIT,
             soft_time_limit=CODE_ROLLBACK_TIME_LIMIT - 30)
def run_code_rollback(rollback_id: int):
    """Call the deploy hook of one queued code rollback (Option B) and wait for its build; returns its status."""
    rollback = code_rollback.execute_code_rollback(rollback_id=rollback_id)
    return rollback.status if rollback else None


def enqueue_code_rollback(rollback) -> bool:
    """Hand a queued code rollback to the workers; an unreachable broker fails it at once, in words."""

    def unreachable(error: str) -> None:
        type(rollback).objects.filter(pk=rollback.pk, status="queued").update(
            status="hook_failed", summary=f"Nothing was called: {error}", finished_at=timezone.now()
        )

    task_id = _send(run_code_rollback, (rollback.pk,), what=f"code rollback {rollback.pk}", on_unreachable=unreachable)
    return task_id is not None
