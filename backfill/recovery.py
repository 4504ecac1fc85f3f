"""Recovery without a person (issue 10): a backfill whose worker died is driven again by itself, and a run that
could not be handed to the task queue does not stay "running" and block every new run.

A run is *stalled* when it is running, its cursor has not moved for a while, and no process holds its driver
lock (the session advisory locks `backfill.ranges._locks` takes; PostgreSQL releases them when the
driving worker's connection dies, however the worker died). With several key ranges, a run is also
stalled when one range of its current phase has not moved for that long and no process holds that range,
while the others go on: the killed range is handed back without waiting for the whole run to stop.
The watchdog hands stalled runs back to the workers; it runs from Celery beat every
``BACKFILL_STALLED_AFTER_SECONDS`` and once when a worker starts. Handing a run over twice is harmless: one
process drives a range at a time, a slice resumes from the range's committed cursor, and a second chain ends
at the first slice that finds every range taken.
"""

from collections.abc import Callable
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from adminpanel import db_sessions
from adminpanel.audit import record_event
from adminpanel.models import PanelEvent
from backfill.models import BackfillRange, BackfillRun
from backfill.ranges import LOCK_KEY, RANGE_LOCK_KEY

REDRIVE = "backfill.redrive"
UNQUEUED = "backfill.unqueued"
UNQUEUED_MESSAGE = (
    "The task queue (Redis) could not be reached, so no worker has this run and nothing was done. "
    "Resume it once the queue is back, or run `manage.py backfill_server_id`."
)
RUN_TARGET = BackfillRun._meta.label_lower


def _is_locked(key: int, obj_id: int) -> bool:
    """Whether a live process holds this advisory lock right now (probed, then released at once)."""
    return not db_sessions.is_free(key, obj_id)


def is_driven(run_id: int) -> bool:
    """Whether a live process drives (any range of) the run right now."""
    return _is_locked(LOCK_KEY, run_id)


def stalled_range(run: BackfillRun, cutoff) -> BackfillRange | None:
    """A range of the run's current phase, not done, idle since `cutoff`, that no process drives."""
    idle = BackfillRange.objects.filter(run_id=run.pk, phase=run.phase, done=False, updated_at__lte=cutoff)
    return next((rng for rng in idle if not _is_locked(RANGE_LOCK_KEY, rng.pk)), None)


def stalled_runs(*, idle_seconds: float, now=None) -> list[BackfillRun]:
    """Running runs without progress for `idle_seconds` that no process drives, and that the watchdog has not
    handed over within that time already (so a queue without workers does not fill up with copies)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=idle_seconds)
    candidates = list(BackfillRun.objects.filter(status=BackfillRun.Status.RUNNING))
    if not candidates:
        return []
    recently = set(
        PanelEvent.objects.filter(
            action=REDRIVE,
            target_type=RUN_TARGET,
            target_id__in=[str(run.pk) for run in candidates],
            created_at__gt=cutoff,
        ).values_list("target_id", flat=True)
    )
    return [
        run
        for run in candidates
        if str(run.pk) not in recently
        and (
            (run.updated_at <= cutoff and not is_driven(run.pk))
            or (run.ranges > 1 and stalled_range(run, cutoff) is not None)
        )
    ]


def redrive_stalled_runs(*, idle_seconds: float, enqueue: Callable[[int], bool], trigger: str, now=None) -> list[int]:
    """Hand every stalled run back to the workers with `enqueue` (True when queued); each hand-over is audited.
    Returns the ids of the runs handed over."""
    now = now or timezone.now()
    handed = []
    for run in stalled_runs(idle_seconds=idle_seconds, now=now):
        stuck = run.updated_at <= now - timedelta(seconds=idle_seconds) and not is_driven(run.pk)
        rng = None if stuck else stalled_range(run, now - timedelta(seconds=idle_seconds))
        if not enqueue(run.pk):
            break  # the queue is unreachable: the next tick tries again
        record_event(
            actor=None,
            action=REDRIVE,
            target=run,
            before={"status": run.status, "last_progress": run.updated_at.isoformat()},
            after={"status": run.status, "queued_by": trigger},
            reason=(
                f"No progress for {int((now - run.updated_at).total_seconds())} s and no worker driving it: "
                f"handed back to the workers ({trigger})."
                if rng is None
                else f"Key range {rng.position + 1} of {run.ranges} ({rng.phase}) made no progress for "
                f"{int((now - rng.updated_at).total_seconds())} s and no worker drives it: "
                f"handed back to the workers ({trigger})."
            ),
            bar=run.bar,
        )
        handed.append(run.pk)
    return handed


def fail_unqueued_run(*, run: BackfillRun, by=None) -> BackfillRun:
    """A run that could not be queued (broker down) is marked failed with a message that says so and what to do,
    so it neither pretends to run nor blocks a new run; resuming it is the way on (audited)."""
    with transaction.atomic():
        changed = BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
            status=BackfillRun.Status.FAILED, error=UNQUEUED_MESSAGE, updated_at=timezone.now()
        )
        if changed:
            record_event(
                actor=by,
                action=UNQUEUED,
                target=run,
                before={"status": "running"},
                after={"status": "failed"},
                reason=UNQUEUED_MESSAGE,
                bar=run.bar,
            )
    run.refresh_from_db()
    return run
