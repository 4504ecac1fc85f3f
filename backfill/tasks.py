"""Celery side of the backfill: one short task per slice of batches, each handing over to the next, and the
watchdog that hands stalled runs back to the workers (``backfill.recovery``).

A run walks each phase as disjoint key ranges (``BackfillRun.ranges``, by default one per worker process): a
slice holds one range; when it takes a range while others wait for a driver it queues one more slice per
waiting range, so the workers drive the ranges side by side.

A task works for at most ``BACKFILL_TASK_SECONDS`` and then enqueues its successor, so no task runs for
hours, the broker's visibility timeout is never approached, and a pause takes effect within one batch.
``acks_late`` is safe only because a slice is idempotent: a redelivered slice resumes from the run's
committed cursor, and a second driver of the same run finds the advisory lock taken and does nothing.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready
from django.conf import settings
from kombu.exceptions import OperationalError

from backfill.backfill import run_batches
from backfill.recovery import redrive_stalled_runs

logger = logging.getLogger(__name__)

REDRIVE_TASK = "backfill.redrive_stalled"


@shared_task(
    name="backfill.backfill_step",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=540,
    time_limit=600,
)
def backfill_step(run_id: int) -> dict:
    """Drive backfill run `run_id` for one slice, then chain the next slice while the run is still running."""
    piece = run_batches(
        run_id=run_id,
        max_seconds=settings.BACKFILL_TASK_SECONDS,
        on_free_ranges=lambda waiting: _more_drivers(run_id, waiting),
    )
    if piece.more_to_do:
        backfill_step.apply_async(args=(run_id,))
    return {"run": run_id, "status": piece.run.status, "batches": piece.batches, "drove": piece.drove}


def _more_drivers(run_id: int, waiting: int) -> None:
    """Key ranges wait with no driver: queue one more slice per range, so each gets a worker of its own (a
    slice that finds every range taken ends at once, so a copy too many costs nothing)."""
    for _ in range(waiting):
        if not enqueue_backfill(run_id):
            return


def enqueue_backfill(run_id: int, *, expires: float | None = None) -> bool:
    """Hand a run to the workers; False when the broker (``CELERY_BROKER_URL``, read at call time) cannot be
    reached. Fails fast instead of retrying for seconds: the caller says so (eagerly, in-process, when
    CELERY_TASK_ALWAYS_EAGER is set)."""
    options = {"args": (run_id,), "retry": False}
    if expires:
        options["expires"] = expires
    if backfill_step.app.conf.task_always_eager:
        backfill_step.apply_async(**options)
        return True
    try:
        with backfill_step.app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=0)
            backfill_step.apply_async(connection=conn, **options)
    except (OperationalError, OSError) as exc:
        logger.warning("backfill run %s not queued, broker unreachable: %s", run_id, exc)
        return False
    return True


@shared_task(
    name=REDRIVE_TASK, ignore_result=True, acks_late=True, reject_on_worker_lost=True, soft_time_limit=50, time_limit=60
)
def redrive_stalled_backfills(trigger: str = "schedule", idle_seconds: float | None = None) -> list[int]:
    """The watchdog: hand runs that stopped moving with nobody driving them back to the workers (idempotent)."""
    idle = settings.BACKFILL_STALLED_AFTER_SECONDS if idle_seconds is None else idle_seconds
    # A copy queued while no worker runs expires rather than piling up; worker start queues a fresh one.
    expires = max(60.0, settings.BACKFILL_STALLED_AFTER_SECONDS * 2.0)
    return redrive_stalled_runs(
        idle_seconds=idle, enqueue=lambda run_id: enqueue_backfill(run_id, expires=expires), trigger=trigger
    )


@worker_ready.connect(dispatch_uid="backfill.redrive_on_worker_ready")
def redrive_when_a_worker_starts(sender=None, **kwargs) -> None:
    """A worker (re)started: runs whose whole worker died are driven again now, not after the broker's
    visibility timeout (an hour) or a person's click. Queued rather than run here, in the worker's main process."""
    try:
        redrive_stalled_backfills.apply_async(kwargs={"trigger": "worker start", "idle_seconds": 0}, retry=False)
    except (OperationalError, OSError) as exc:  # the broker went away again: beat's tick will do it
        logger.warning("backfill watchdog not queued at worker start: %s", exc)
