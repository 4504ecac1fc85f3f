"""Celery side of the backfill: one short task per slice of batches, each handing over to the next.

A task works for at most ``BACKFILL_TASK_SECONDS`` and then enqueues its successor, so no task runs for
hours, the broker's visibility timeout is never approached, and a pause takes effect within one batch.
``acks_late`` is safe only because a slice is idempotent: a redelivered slice resumes from the run's
committed cursor, and a second driver of the same run finds the advisory lock taken and does nothing.
"""

from celery import shared_task
from django.conf import settings

from backfill.backfill import run_batches


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
    piece = run_batches(run_id=run_id, max_seconds=settings.BACKFILL_TASK_SECONDS)
    if piece.more_to_do:
        backfill_step.apply_async(args=(run_id,))
    return {"run": run_id, "status": piece.run.status, "batches": piece.batches, "drove": piece.drove}


def enqueue_backfill(run_id: int) -> None:
    """Hand a run to the workers (eagerly, in-process, when CELERY_TASK_ALWAYS_EAGER is set)."""
    backfill_step.apply_async(args=(run_id,))
