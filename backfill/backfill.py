"""The robust server_id backfill (runbook step 6): resolve every sale, consignment and return whose
``server_id`` is NULL, writing exactly one ``migration_server_id_log`` row per row touched.

How it runs (DESIGN.md sections 6 and 7): phases sales → consignments → returns. Each phase is split into
``BackfillRun.ranges`` disjoint key ranges (``BackfillRange``, by default one per Celery worker process), each a
keyset walk of the primary key (``WHERE id > last_id [AND id <= upper] ORDER BY id LIMIT n``, never OFFSET,
never a rescan from the start) with its own cursor; one process drives a range at a time (a session advisory
lock), and the next phase starts when the last range of the phase ends (returns follow their sales). Each
batch is one short transaction with ``lock_timeout``, ``statement_timeout`` and ``synchronous_commit`` off,
and the range's cursor and the run's counters are written in that same transaction. A batch that times
out is rolled back and retried at half the size. Rows already holding a ``server_id`` or a log row are
skipped, so the job is idempotent: killed anywhere and run again (resumed or started afresh) it ends in the
same state with no duplicate log rows. ``VACUUM ANALYZE`` of the touched tables ends a real run.
A dry run walks the same batches with the same resolution as a read-only query and writes nothing but its
own ``BackfillRun`` record.

This module starts, pauses, resumes, drives and finishes runs; the vocabulary is in
:mod:`backfill.sources`, the SQL in :mod:`backfill.backfill_sql`, one batch in :mod:`backfill.batches` and the
key ranges in :mod:`backfill.ranges`.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from adminpanel import db_sessions
from adminpanel.audit import record_event
from backfill.backfill_sql import pending_count_sql
from backfill.batches import drive_one_batch, is_timeout, regrow_if_quick, shrink_after_timeout
from backfill.models import BackfillRange, BackfillRun
from backfill.ranges import LOCK_KEY, claim_range, free_ranges, release_range
from backfill.sources import SOURCES


def default_ranges() -> int:
    """Key ranges per phase: one per Celery worker process unless ``BACKFILL_RANGES`` says otherwise."""
    return max(1, int(getattr(settings, "BACKFILL_RANGES", settings.CELERY_WORKER_CONCURRENCY)))


class BackfillError(Exception):
    """Base of the backfill's domain errors."""


class BackfillAlreadyActive(BackfillError):
    def __init__(self, run: BackfillRun):
        super().__init__(f"backfill run {run.pk} is already {run.status}; pause/resume it or wait for it to end")
        self.run = run


class BackfillStateError(BackfillError):
    """A pause or resume that the run's current status does not allow."""


class BackfillStalled(BackfillError):
    """Batches keep timing out even at the smallest size."""


def pending_by_table(*, bar=None) -> dict[str, int]:
    """Rows a run would examine, per table (sales, consignments, returns): server_id NULL and no log row yet."""
    bar_id = getattr(bar, "pk", bar)
    counts = {}
    with connection.cursor() as cursor:
        for source in SOURCES:
            cursor.execute(pending_count_sql(source, bar_id), {"bar_id": bar_id})
            counts[source.table] = cursor.fetchone()[0]
    return counts


def count_pending(*, bar=None) -> int:
    """Rows that a run would examine: server_id NULL and no log row yet (one count per table, at start)."""
    return sum(pending_by_table(bar=bar).values())


def active_run() -> BackfillRun | None:
    return BackfillRun.objects.filter(status__in=BackfillRun.ACTIVE_STATUSES).first()


def start_backfill(
    *,
    started_by=None,
    bar=None,
    dry_run: bool = False,
    batch_size: int | None = None,
    via: str = "command",
    ranges: int | None = None,
) -> BackfillRun:
    """Create a running backfill run (one live run at a time); batches are then driven by `run_batches`, one
    driver per key range (`ranges`, default `default_ranges()`)."""
    size = int(batch_size or settings.BACKFILL_BATCH_SIZE)
    if size < 1:
        raise ValueError("batch size must be at least 1")
    ranges = int(ranges or default_ranges())
    if ranges < 1:
        raise ValueError("a run needs at least one key range")
    existing = active_run()
    if existing is not None:
        raise BackfillAlreadyActive(existing)
    total = count_pending(bar=bar)
    try:
        with transaction.atomic():
            run = BackfillRun.objects.create(
                bar=bar,
                dry_run=dry_run,
                started_via=via,
                started_by=started_by if getattr(started_by, "pk", None) else None,
                configured_batch_size=size,
                batch_size=size,
                ranges=ranges,
                rows_total=total,
            )
            record_event(
                actor=started_by,
                action="backfill.start",
                target=run,
                after={
                    "bar": str(run.bar_id) if run.bar_id else None,
                    "dry_run": dry_run,
                    "batch_size": size,
                    "ranges": ranges,
                },
                bar=bar,
            )
    except IntegrityError as exc:
        raise BackfillAlreadyActive(active_run() or BackfillRun(status="running")) from exc
    return run


def pause_backfill(*, run: BackfillRun, by=None) -> BackfillRun:
    """Ask a running run to stop after its current batch (at most one batch, about a second)."""
    with transaction.atomic():
        changed = BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
            status=BackfillRun.Status.PAUSED, updated_at=timezone.now()
        )
        if not changed:
            raise BackfillStateError(f"backfill run {run.pk} is not running")
        record_event(
            actor=by,
            action="backfill.pause",
            target=run,
            before={"status": "running"},
            after={"status": "paused"},
            bar=run.bar,
        )
    run.refresh_from_db()
    return run


def resume_backfill(*, run: BackfillRun, by=None) -> BackfillRun:
    """Set a paused, failed or stalled run running again from its cursor; the caller drives it."""
    before = run.status
    try:
        with transaction.atomic():
            changed = BackfillRun.objects.filter(
                pk=run.pk,
                status__in=[BackfillRun.Status.PAUSED, BackfillRun.Status.FAILED, BackfillRun.Status.RUNNING],
            ).update(status=BackfillRun.Status.RUNNING, error="", finished_at=None, updated_at=timezone.now())
            if not changed:
                raise BackfillStateError(f"backfill run {run.pk} is {run.status}; it cannot be resumed")
            record_event(
                actor=by,
                action="backfill.resume",
                target=run,
                before={"status": before},
                after={"status": "running"},
                bar=run.bar,
            )
    except IntegrityError as exc:
        raise BackfillAlreadyActive(active_run() or run) from exc
    run.refresh_from_db()
    return run


@dataclass(frozen=True)
class Slice:
    """What one call of `run_batches` did: the run as it now stands and whether this caller drove it (False:
    whatever was left to drive was already driven by other processes)."""

    run: BackfillRun
    drove: bool
    batches: int

    @property
    def more_to_do(self) -> bool:
        return self.drove and self.run.status == BackfillRun.Status.RUNNING


def run_batches(
    *,
    run_id: int,
    max_seconds: float | None = None,
    max_batches: int | None = None,
    on_batch: Callable[[BackfillRun], None] | None = None,
    on_free_ranges: Callable[[int], None] | None = None,
) -> Slice:
    """Drive a running run batch by batch until it finishes, is paused, fails, the budget is spent, or every
    range left is driven by another process. The driver holds one key range at a time and takes the next free
    one when it ends; `on_free_ranges(n)` is told when it takes a range while n others wait for a driver (the
    Celery task queues that many more slices, so each range gets its own worker)."""
    deadline = time.monotonic() + max_seconds if max_seconds else None
    batches = consecutive_timeouts = 0
    held: BackfillRange | None = None
    try:
        while True:
            run = BackfillRun.objects.get(pk=run_id)
            if run.status != BackfillRun.Status.RUNNING:
                return Slice(run=run, drove=True, batches=batches)
            if run.phase == BackfillRun.Phase.DONE:
                release_range(held)
                held = None
                finished = _finish_unless_finishing(run)
                return Slice(run=finished or run, drove=finished is not None, batches=batches)
            # A slice always does at least one batch, so a chain of slices cannot spin without progress.
            out_of_time = deadline is not None and batches and time.monotonic() >= deadline
            if out_of_time or (max_batches is not None and batches >= max_batches):
                return Slice(run=run, drove=True, batches=batches)
            if held is None or held.done or held.phase != run.phase:
                release_range(held)
                held = claim_range(run)
                if held is None:
                    return Slice(run=run, drove=False, batches=batches)
                if on_free_ranges is not None and (waiting := free_ranges(run_id)):
                    on_free_ranges(waiting)
            try:
                outcome = drive_one_batch(run, held)
                consecutive_timeouts = 0
                regrow_if_quick(run, outcome)
            except DatabaseError as exc:
                if not is_timeout(exc):
                    _fail(run, exc)
                    raise
                consecutive_timeouts += 1
                shrink_after_timeout(run, exc)
                if consecutive_timeouts > settings.BACKFILL_MAX_CONSECUTIVE_TIMEOUTS:
                    stalled = BackfillStalled(f"{consecutive_timeouts} batches in a row timed out: {exc}")
                    _fail(run, stalled)
                    raise stalled from exc
                continue
            except BaseException as exc:
                _fail(run, exc)
                raise
            batches += 1
            if on_batch is not None:
                on_batch(run)
    finally:
        release_range(held)


def _fail(run: BackfillRun, exc: BaseException) -> None:
    message = f"{type(exc).__name__}: {exc}"[:2000]
    BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
        status=BackfillRun.Status.FAILED, error=message, updated_at=timezone.now()
    )


def _finish_unless_finishing(run: BackfillRun) -> BackfillRun | None:
    """Finish the run once every phase is done, unless another process is at it (None then)."""
    with db_sessions.held(LOCK_KEY, run.pk) as taken:
        if not taken:
            return None
        run.refresh_from_db()
        if run.status != BackfillRun.Status.RUNNING:
            return run
        return _finish(run)


def _finish(run: BackfillRun) -> BackfillRun:
    if not run.dry_run and settings.BACKFILL_VACUUM_AT_END:
        vacuum_touched_tables()
    now = timezone.now()
    BackfillRun.objects.filter(pk=run.pk, status=BackfillRun.Status.RUNNING).update(
        status=BackfillRun.Status.FINISHED, finished_at=now, updated_at=now
    )
    run.refresh_from_db()
    return run


def vacuum_touched_tables() -> bool:
    """VACUUM ANALYZE what the backfill rewrote; impossible (and skipped) inside a transaction, as in tests."""
    if connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        for table in ("sales", "consignments", "returns", "migration_server_id_log"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    return True


def run_backfill(
    *,
    started_by=None,
    bar=None,
    dry_run: bool = False,
    batch_size: int | None = None,
    on_batch: Callable[[BackfillRun], None] | None = None,
) -> BackfillRun:
    """Start a run (or carry on the live run of the same scope) and drive it to its end in this process."""
    run = active_run()
    if run is None:
        run = start_backfill(started_by=started_by, bar=bar, dry_run=dry_run, batch_size=batch_size)
    elif run.bar_id != getattr(bar, "pk", bar) or run.dry_run != dry_run:
        raise BackfillAlreadyActive(run)
    elif run.status == BackfillRun.Status.PAUSED:
        return run
    while True:
        piece = run_batches(run_id=run.pk, on_batch=on_batch)
        if not piece.drove:
            if piece.batches:  # it did its share; the processes that hold the other ranges carry on
                return piece.run
            raise BackfillAlreadyActive(piece.run)
        if not piece.more_to_do:
            return piece.run
