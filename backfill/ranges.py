"""A run's key ranges: split a phase into disjoint ranges, claim a free one for this process under its session
advisory locks, release it, and count the ranges that no process drives."""

import math

from django.db import connection, transaction

from adminpanel import db_sessions
from backfill.backfill_sql import key_span_sql
from backfill.models import BackfillRange, BackfillRun
from backfill.sources import SOURCE_BY_PHASE, Source

LOCK_KEY = 4_404_404  # pg advisory lock class of a run: shared by each range's driver, exclusive to finish or probe
RANGE_LOCK_KEY = 4_404_405  # pg advisory lock class of a key range: one driver per range at a time
# Ranges this process drives right now: advisory locks are re-entrant within a session, so a driver nested in the
# same process (an eager Celery task) must not take a range its caller holds.
_HELD: set[int] = set()


def _locks(run_id: int, range_id: int) -> bool:
    """Take a range for this session: its exclusive lock, and a shared hold on the run (which tells the
    watchdog, and a finisher, that someone drives the run). Both or neither."""
    if not db_sessions.try_lock(RANGE_LOCK_KEY, range_id):
        return False
    if db_sessions.try_lock(LOCK_KEY, run_id, shared=True):
        return True
    db_sessions.unlock(RANGE_LOCK_KEY, range_id)
    return False


def release_range(rng: BackfillRange | None) -> None:
    """Let go of a range this process holds (its lock and its hold on the run); anything else is a no-op."""
    if rng is None or rng.pk not in _HELD:
        return
    _HELD.discard(rng.pk)
    db_sessions.unlock(RANGE_LOCK_KEY, rng.pk)
    db_sessions.unlock(LOCK_KEY, rng.run_id, shared=True)


def split_ranges(source: Source, bar_id, count: int, after: int) -> list[tuple[int, int | None]]:
    """`count` disjoint key ranges of equal width over the ids after `after` (ids are dense, so about equal
    row counts); the first starts at `after`, the last has no upper bound, so rows inserted during the run are
    walked too."""
    with connection.cursor() as cursor:
        cursor.execute(key_span_sql(source, bar_id), {"after": after, "bar_id": bar_id})
        lowest, highest = cursor.fetchone()
    if highest is None or count <= 1 or highest - lowest < count:
        return [(after, None)]
    width = math.ceil((highest - lowest + 1) / count)
    bounds = [(lowest - 1 + i * width, lowest - 1 + (i + 1) * width) for i in range(count)]
    bounds[0] = (after, bounds[0][1])
    bounds[-1] = (bounds[-1][0], None)
    return bounds


def _ensure_ranges(run: BackfillRun) -> tuple[list[BackfillRange], bool]:
    """The key ranges of the run's current phase, made at the first look (under the run's row lock, so once).
    A run's own cursor (`last_id`, from before it had ranges) is where the first range starts."""
    ranges = list(BackfillRange.objects.filter(run_id=run.pk, phase=run.phase).order_by("position"))
    if ranges:
        return ranges, False
    with transaction.atomic():
        locked = BackfillRun.objects.select_for_update().get(pk=run.pk)
        if locked.phase != run.phase or locked.phase == BackfillRun.Phase.DONE:
            return [], False
        ranges = list(BackfillRange.objects.filter(run_id=run.pk, phase=run.phase).order_by("position"))
        if ranges:
            return ranges, False
        bounds = split_ranges(SOURCE_BY_PHASE[run.phase], run.bar_id, locked.ranges, locked.last_id)
        ranges = BackfillRange.objects.bulk_create(
            BackfillRange(run_id=run.pk, phase=run.phase, position=i, after_id=low, upper_id=high, last_id=low)
            for i, (low, high) in enumerate(bounds)
        )
    return ranges, True


def claim_range(run: BackfillRun) -> BackfillRange | None:
    """A range of the current phase that is not done and that no process drives, now held by this one."""
    ranges, _ = _ensure_ranges(run)
    for rng in ranges:
        if rng.done or rng.pk in _HELD:
            continue
        if not _locks(run.pk, rng.pk):
            continue
        _HELD.add(rng.pk)
        rng.refresh_from_db()
        if rng.done:  # ended by its driver between our read and our lock
            release_range(rng)
            continue
        return rng
    return None


def free_ranges(run_id: int) -> int:
    """Ranges of the run's current phase that are not done and that no session drives."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM backfill_run_ranges g JOIN backfill_runs r ON r.id = g.run_id AND g.phase = r.phase "
            "WHERE g.run_id = %s AND NOT g.done AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = "
            "'advisory' AND l.granted AND l.classid = %s AND l.objid = g.id AND l.objsubid = 2)",
            [run_id, RANGE_LOCK_KEY],
        )
        return cursor.fetchone()[0]
