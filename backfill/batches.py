"""One batch of one key range: window, resolve, write (or retry row by row), then move the range's cursor and the
run's counters in the same short transaction; and the batch size's halving after a timeout and regrowth after.

Table and column names in the SQL below come from :data:`backfill.sources.SOURCES` only, never from input (hence
the file-wide S608 waiver).
"""

# ruff: noqa: S608
import json
import logging
import time
from collections import Counter
from dataclasses import dataclass

import psycopg.errors
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from backfill.backfill_sql import dry_run_sql, normalised_names, pending_ids_sql, window_sql, write_sql
from backfill.models import BackfillRange, BackfillRun
from backfill.sources import FAILED_PREFIX, NEXT_PHASE, SOURCE_BY_PHASE, Source

logger = logging.getLogger(__name__)


@dataclass
class BatchOutcome:
    """What one batch did: the key it reached (None: its range is done), its (reason, resolved, count) groups."""

    upper: int | None
    groups: list[tuple[str | None, bool, int]]
    elapsed_ms: int = 0


def is_timeout(exc: BaseException) -> bool:
    """True when the batch hit its lock or statement timeout (it is retried at half the size)."""
    cause = exc.__cause__ or exc
    return isinstance(cause, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable)


# SQLSTATE classes that belong to some row's data, not to the job, its SQL or the server: data exceptions,
# integrity violations, triggered-action errors and PL/pgSQL RAISE (a trigger refusing the row).
ROW_ERROR_SQLSTATE_CLASSES = ("22", "23", "27", "P0")


def _is_row_error(exc: BaseException) -> bool:
    """True when retrying the batch row by row can isolate the culprit (see ROW_ERROR_SQLSTATE_CLASSES)."""
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    return sqlstate[:2] in ROW_ERROR_SQLSTATE_CLASSES and not is_timeout(exc)


def _set_timeouts(cursor) -> None:
    # synchronous_commit off, for this batch's transaction only: a crash can lose the last few commits (at
    # most ~3 × wal_writer_delay), never half of one, and each commit carries its own range cursor and counters.
    # A lost batch is therefore simply not done yet, and the resumed run (its rows still NULL with no log
    # row) does it again: the state on disk stays consistent, only the wait for the WAL flush goes.
    cursor.execute(
        "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true), "
        "set_config('synchronous_commit', 'off', true)",
        [f"{settings.BACKFILL_LOCK_TIMEOUT_MS}ms", f"{settings.BACKFILL_STATEMENT_TIMEOUT_MS}ms"],
    )
    # The FKs are DEFERRABLE INITIALLY DEFERRED: checked now, they count in the batch's time and timeout
    # instead of running unbounded at COMMIT.
    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")


def _window(
    cursor, source: Source, bar_id, after: int, size: int, limit: int | None = None
) -> tuple[int | None, list[str], list[str]]:
    cursor.execute(
        window_sql(source, bar_id, bounded=limit is not None),
        {"after": after, "size": size, "bar_id": bar_id, "limit": limit},
    )
    upper, raw_names = cursor.fetchone()
    raw, norm = normalised_names(raw_names)
    return upper, raw, norm


def _write_batch(cursor, source: Source, params: dict) -> list[tuple[str | None, bool, int]]:
    """Resolve and write one key range in the current transaction."""
    cursor.execute(write_sql(source, params["bar_id"]), params)
    return cursor.fetchall()


def _write_rows_one_by_one(cursor, source: Source, params: dict) -> list[tuple[str | None, bool, int]]:
    """A batch failed on its data: write its rows one at a time; a row that fails alone is logged as failed."""
    cursor.execute(pending_ids_sql(source, params["bar_id"]), params)
    groups: list[tuple[str | None, bool, int]] = []
    for row_id, bar_id, server_name in cursor.fetchall():
        try:
            with transaction.atomic():
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                groups += _write_batch(cursor, source, {**params, "after": row_id - 1, "upper": row_id})
        except DatabaseError as exc:
            if not _is_row_error(exc):
                raise
            reason = (FAILED_PREFIX + " ".join(str(exc).split()))[:500]
            cursor.execute(
                f"INSERT INTO migration_server_id_log ({source.log_column}, bar_id, server_name, "
                "resolved_server_id, fallback_used, fallback_reason, created_at) "
                f"VALUES (%s, %s, %s, NULL, true, %s, now()) ON CONFLICT ({source.log_column}) DO NOTHING",
                [row_id, bar_id, server_name, reason],
            )
            groups.append((reason, False, cursor.rowcount))
            logger.warning("backfill: %s %s failed alone: %s", source.table, row_id, exc)
    return groups


def _run_one_batch(run: BackfillRun, rng: BackfillRange, *, row_by_row: bool = False) -> BatchOutcome:
    """One batch of one key range in its own transaction: window, resolve, write, and move the range's cursor
    and the run's counters, all or nothing."""
    source = SOURCE_BY_PHASE[rng.phase]
    bar_id = run.bar_id
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        _set_timeouts(cursor)
        upper, raw, norm = _window(cursor, source, bar_id, rng.last_id, run.batch_size, rng.upper_id)
        if upper is None:
            _range_done(run, rng)
            return BatchOutcome(upper=None, groups=[])
        params = {"after": rng.last_id, "upper": upper, "bar_id": bar_id, "raw": raw, "norm": norm}
        _write_budget(cursor, started)
        if run.dry_run:
            cursor.execute(dry_run_sql(source, bar_id), params)
            groups = cursor.fetchall()
        elif row_by_row:
            groups = _write_rows_one_by_one(cursor, source, params)
        else:
            groups = _write_batch(cursor, source, params)
        outcome = BatchOutcome(upper=upper, groups=groups, elapsed_ms=int((time.perf_counter() - started) * 1000))
        _record_batch(cursor, run, rng, outcome)
    return outcome


# Kept for the batch's last steps (cursor and counters, commit) after the write statement.
BATCH_TAIL_MS = 100


def _write_budget(cursor, started: float) -> None:
    """The write statement gets what is left of the batch's budget (``BACKFILL_STATEMENT_TIMEOUT_MS``) after the
    window, less the tail: the whole batch, and so any row lock it holds, stays within the budget."""
    spent = (time.perf_counter() - started) * 1000
    left = max(BATCH_TAIL_MS, int(settings.BACKFILL_STATEMENT_TIMEOUT_MS - spent - BATCH_TAIL_MS))
    cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{left}ms"])


def _range_done(run: BackfillRun, rng: BackfillRange) -> None:
    """The range is walked to its end; the last range of the phase to end moves the run to the next phase
    (the run row is locked, so two ranges ending together cannot both miss, or both make, the move)."""
    BackfillRange.objects.filter(pk=rng.pk).update(done=True, updated_at=timezone.now())
    rng.done = True
    locked = BackfillRun.objects.select_for_update().only("phase").get(pk=run.pk)
    if (
        locked.phase == rng.phase
        and not BackfillRange.objects.filter(run_id=run.pk, phase=rng.phase, done=False).exists()
    ):
        _advance_phase(run)


def _advance_phase(run: BackfillRun) -> None:
    next_phase = NEXT_PHASE[run.phase]
    BackfillRun.objects.filter(pk=run.pk).update(phase=next_phase, last_id=0, updated_at=timezone.now())
    run.phase, run.last_id = next_phase, 0


# The run's counters are added to in SQL (two ranges write them concurrently), reason counts merged in jsonb.
RECORD_BATCH_SQL = """
WITH moved AS (
  UPDATE backfill_run_ranges SET last_id = %(upper)s, batches = batches + 1, rows_done = rows_done + %(done)s,
         updated_at = %(now)s
  WHERE id = %(range)s
)
UPDATE backfill_runs SET
  last_id = %(upper)s,
  rows_done = rows_done + %(done)s,
  resolved_directly = resolved_directly + %(directly)s,
  resolved_by_fallback = resolved_by_fallback + %(by_fallback)s,
  unresolved = unresolved + %(unresolved)s,
  failed_rows = failed_rows + %(failed)s,
  reason_counts = CASE WHEN cardinality(%(reasons)s::text[]) = 0 THEN reason_counts ELSE (
    SELECT jsonb_object_agg(k, n) FROM (
      SELECT k, sum(n)::bigint AS n FROM (
        SELECT key AS k, value::bigint AS n FROM jsonb_each_text(reason_counts)
        UNION ALL SELECT * FROM unnest(%(reasons)s::text[], %(counts)s::bigint[])
      ) x GROUP BY k
    ) y) END,
  batches = batches + 1,
  longest_batch_ms = GREATEST(longest_batch_ms, %(elapsed_ms)s),
  active_seconds = active_seconds + %(share_s)s,
  updated_at = %(now)s
WHERE id = %(run)s
RETURNING reason_counts, longest_batch_ms
"""


def _record_batch(cursor, run: BackfillRun, rng: BackfillRange, outcome: BatchOutcome) -> None:
    done = directly = by_fallback = unresolved = failed = 0
    reasons: Counter[str] = Counter()
    for reason, resolved, count in outcome.groups:
        done += count
        if reason is None:
            directly += count
            continue
        if reason.startswith(FAILED_PREFIX):
            failed += count
            reasons["failed"] += count
        else:
            reasons[reason] += count
        if resolved:
            by_fallback += count
        else:
            unresolved += count
    cursor.execute(
        RECORD_BATCH_SQL,
        {
            "run": run.pk,
            "range": rng.pk,
            "upper": outcome.upper,
            "done": done,
            "directly": directly,
            "by_fallback": by_fallback,
            "unresolved": unresolved,
            "failed": failed,
            "reasons": list(reasons),
            "counts": list(reasons.values()),
            "elapsed_ms": outcome.elapsed_ms,
            # Time in batches, shared among the ranges that run side by side: rows_done / active_seconds stays
            # the run's rate (and its ETA) rather than one range's.
            "share_s": outcome.elapsed_ms / 1000.0 / max(1, run.ranges),
            "now": timezone.now(),
        },
    )
    counts, run.longest_batch_ms = cursor.fetchone()
    run.reason_counts = json.loads(counts) if isinstance(counts, str) else counts
    run.last_id = rng.last_id = outcome.upper


def drive_one_batch(run: BackfillRun, rng: BackfillRange) -> BatchOutcome:
    """Run the range's next batch; a batch that fails on some row's data is retried row by row."""
    try:
        return _run_one_batch(run, rng)
    except DatabaseError as exc:
        if not _is_row_error(exc) or run.dry_run:
            raise
        logger.warning("backfill run %s: batch after %s failed (%s); retrying row by row", run.pk, rng.last_id, exc)
        return _run_one_batch(run, rng, row_by_row=True)


def regrow_if_quick(run: BackfillRun, outcome: BatchOutcome) -> None:
    """A batch halved after a timeout grows back (doubling, never past the configured size) once a batch takes
    under a quarter of the statement timeout: a passing load spike must not leave a run at tiny batches, whose
    per-batch cost then dominates; doubling a batch that took under 25 % keeps the next one well under it."""
    quick = outcome.upper is not None and outcome.elapsed_ms * 4 < settings.BACKFILL_STATEMENT_TIMEOUT_MS
    if quick and run.batch_size < run.configured_batch_size:
        BackfillRun.objects.filter(pk=run.pk).update(batch_size=Least(F("batch_size") * 2, F("configured_batch_size")))


def shrink_after_timeout(run: BackfillRun, exc: BaseException) -> None:
    """Halve the run's batch size after a timeout (never below ``BACKFILL_MIN_BATCH_SIZE``) and count it."""
    size = min(run.batch_size, max(settings.BACKFILL_MIN_BATCH_SIZE, run.batch_size // 2))  # never grows
    logger.warning("backfill run %s: batch of %s timed out (%s); next size %s", run.pk, run.batch_size, exc, size)
    BackfillRun.objects.filter(pk=run.pk).update(
        batch_size=Least(F("batch_size"), size), timeouts=F("timeouts") + 1, updated_at=timezone.now()
    )
