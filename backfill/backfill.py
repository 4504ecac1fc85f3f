"""The robust server_id backfill (runbook step 6): resolve every sale, consignment and return whose
``server_id`` is NULL, writing exactly one ``migration_server_id_log`` row per row touched.

Resolution, in this fixed order (the first step that gives a server wins):

1. **Direct route.** Sales and consignments: the typed ``server_name``, normalised by
   :func:`mappings.resolve.normalize_server_name` (Python stays the single definition: each batch's distinct
   names are normalised here and joined to ``server_name_mappings.normalized_name`` as an ``unnest`` list),
   looked up in that bar's mappings. The mapped user must still be an active account and an active
   ``server``/``manager`` member of the bar (as the resolver demands). Returns: the ``server_id`` of the sale
   they return (sales are backfilled first, so a return follows its sale).
2. **Fallback: the recording user** (``created_by``) when they are an active ``server`` member of that bar
   with an active account.
3. Otherwise ``server_id`` stays NULL.

The log row says why the direct route failed (``fallback_reason``, from :data:`FALLBACK_REASONS`, checked in
that order) and ``fallback_used = true``; ``resolved_server_id`` then tells whether the fallback found
someone. A row resolved directly has ``fallback_used = false`` and no reason. Vocabulary:

- ``no_server_name``: no name typed (NULL, or blank once normalised);
- ``unmapped_name``: the bar has no mapping for the normalised name;
- ``mapping_user_deleted``: the mapping points to an account that is gone or deactivated;
- ``inactive_member``: the mapped user is no longer an active server/manager member of the bar;
- ``no_sale``: a return with no sale;
- ``sale_unresolved``: a return whose sale has no ``server_id``;
- ``failed: <error>``: the row could not be written (its batch failed, and so did the row alone);
  ``server_id`` is left untouched.

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
"""

# ruff: noqa: S608
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import psycopg.errors
from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from adminpanel import db_sessions
from adminpanel.audit import record_event
from backfill.models import BackfillRange, BackfillRun
from mappings.names import normalize_server_name

logger = logging.getLogger(__name__)

NO_SERVER_NAME = "no_server_name"
UNMAPPED_NAME = "unmapped_name"
MAPPING_USER_DELETED = "mapping_user_deleted"
INACTIVE_MEMBER = "inactive_member"
NO_SALE = "no_sale"
SALE_UNRESOLVED = "sale_unresolved"
FAILED_PREFIX = "failed: "
# The fixed order in which the direct route's failures are checked (sales/consignments, then returns).
FALLBACK_REASONS = (NO_SERVER_NAME, UNMAPPED_NAME, MAPPING_USER_DELETED, INACTIVE_MEMBER, NO_SALE, SALE_UNRESOLVED)
FALLBACK_REASON_LABELS = {
    NO_SERVER_NAME: "No server name typed",
    UNMAPPED_NAME: "Name not mapped in this bar",
    MAPPING_USER_DELETED: "Mapped account deleted or deactivated",
    INACTIVE_MEMBER: "Mapped user no longer an active member",
    NO_SALE: "Return without a sale",
    SALE_UNRESOLVED: "Return whose sale has no server",
}
# The recording user counts as the fallback only with this role.
FALLBACK_ROLE = "server"
DIRECT_ROLES = ("server", "manager")
LOCK_KEY = 4_404_404  # pg advisory lock class of a run: shared by each range's driver, exclusive to finish or probe
RANGE_LOCK_KEY = 4_404_405  # pg advisory lock class of a key range: one driver per range at a time
# Ranges this process drives right now: advisory locks are re-entrant within a session, so a driver nested in the
# same process (an eager Celery task) must not take a range its caller holds.
_HELD: set[int] = set()


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


@dataclass(frozen=True)
class _Source:
    phase: str
    table: str
    log_column: str
    has_server_name: bool


SOURCES = (
    _Source(BackfillRun.Phase.SALES, "sales", "sale_id", True),
    _Source(BackfillRun.Phase.CONSIGNMENTS, "consignments", "consignment_id", True),
    _Source(BackfillRun.Phase.RETURNS, "returns", "return_id", False),
)
SOURCE_BY_PHASE = {s.phase: s for s in SOURCES}
NEXT_PHASE = {
    BackfillRun.Phase.SALES: BackfillRun.Phase.CONSIGNMENTS,
    BackfillRun.Phase.CONSIGNMENTS: BackfillRun.Phase.RETURNS,
    BackfillRun.Phase.RETURNS: BackfillRun.Phase.DONE,
}


# --- SQL ---------------------------------------------------------------------------------------------
# Table and column names below come from SOURCES only, never from input (hence the file-wide S608 waiver).


def _bar_filter(alias: str, bar_id) -> str:
    return f" AND {alias}.bar_id = %(bar_id)s" if bar_id else ""


def window_sql(source: _Source, bar_id, *, bounded: bool = False) -> str:
    """The batch's upper key and the distinct names to normalise: one indexed walk of `size` keys (inside the
    key range's upper bound `limit` when the range has one)."""
    name = "server_name" if source.has_server_name else "NULL::text"
    limit = " AND t.id <= %(limit)s" if bounded else ""
    return (
        "SELECT max(w.id), array_agg(DISTINCT w.server_name) FILTER (WHERE w.server_id IS NULL) "
        f"FROM (SELECT t.id, t.server_id, {name} AS server_name FROM {source.table} t "
        f"WHERE t.id > %(after)s{limit}{_bar_filter('t', bar_id)} ORDER BY t.id LIMIT %(size)s) w"
    )


def resolution_cte(source: _Source, bar_id, *, lock: bool) -> str:
    """`WITH … resolved(id, bar_id, server_name, reason, server_id)` for the rows of one key range."""
    pending = (
        f"SELECT t.id, t.bar_id, {'t.server_name' if source.has_server_name else 't.sale_id'}, t.created_by "
        f"FROM {source.table} t "
        f"WHERE t.id > %(after)s AND t.id <= %(upper)s AND t.server_id IS NULL{_bar_filter('t', bar_id)} "
        f"AND NOT EXISTS (SELECT 1 FROM migration_server_id_log l WHERE l.{source.log_column} = t.id)"
        f"{' FOR UPDATE OF t' if lock else ''}"
    )
    if source.has_server_name:
        direct = f"""
batch(id, bar_id, server_name, created_by) AS ({pending}),
names(raw, norm) AS (SELECT * FROM unnest(%(raw)s::text[], %(norm)s::text[])),
direct AS (
  SELECT b.id, b.bar_id, b.server_name, b.created_by,
         CASE WHEN n.norm IS NULL OR n.norm = '' THEN '{NO_SERVER_NAME}'
              WHEN m.id IS NULL THEN '{UNMAPPED_NAME}'
              WHEN u.id IS NULL OR u.banned_until > now() THEN '{MAPPING_USER_DELETED}'
              WHEN bm.id IS NULL THEN '{INACTIVE_MEMBER}' END AS reason,
         m.user_id AS direct_id
  FROM batch b
  LEFT JOIN names n ON n.raw = b.server_name
  LEFT JOIN server_name_mappings m ON m.bar_id = b.bar_id AND m.normalized_name = n.norm
  LEFT JOIN auth.users u ON u.id = m.user_id
  LEFT JOIN bar_members bm ON bm.bar_id = b.bar_id AND bm.user_id = m.user_id AND bm.is_active
        AND bm.role IN ('{DIRECT_ROLES[0]}', '{DIRECT_ROLES[1]}')
)"""
    else:
        direct = f"""
batch(id, bar_id, sale_id, created_by) AS ({pending}),
direct AS (
  SELECT b.id, b.bar_id, s.server_name, b.created_by,
         CASE WHEN s.id IS NULL THEN '{NO_SALE}' WHEN s.server_id IS NULL THEN '{SALE_UNRESOLVED}' END AS reason,
         s.server_id AS direct_id
  FROM batch b
  LEFT JOIN sales s ON s.id = b.sale_id
)"""
    return f"""WITH {direct.strip()},
resolved AS (
  SELECT d.id, d.bar_id, d.server_name, d.reason,
         CASE WHEN d.reason IS NULL THEN d.direct_id ELSE fu.id END AS server_id
  FROM direct d
  LEFT JOIN bar_members fm ON d.reason IS NOT NULL AND fm.bar_id = d.bar_id AND fm.user_id = d.created_by
        AND fm.is_active AND fm.role = '{FALLBACK_ROLE}'
  LEFT JOIN auth.users fu ON fu.id = fm.user_id AND (fu.banned_until IS NULL OR fu.banned_until <= now())
)"""


def write_sql(source: _Source, bar_id) -> str:
    """Resolve one key range, set server_id, log every row; returns (reason, resolved, count) groups."""
    return f"""{resolution_cte(source, bar_id, lock=True)},
updated AS (
  UPDATE {source.table} t SET server_id = r.server_id
  FROM resolved r WHERE t.id = r.id AND r.server_id IS NOT NULL
),
logged AS (
  INSERT INTO migration_server_id_log
    ({source.log_column}, bar_id, server_name, resolved_server_id, fallback_used, fallback_reason, created_at)
  SELECT r.id, r.bar_id, r.server_name, r.server_id, r.reason IS NOT NULL, r.reason, now() FROM resolved r
  ON CONFLICT ({source.log_column}) DO NOTHING
  RETURNING fallback_reason, resolved_server_id IS NOT NULL AS resolved
)
SELECT fallback_reason, resolved, count(*) FROM logged GROUP BY 1, 2"""


def dry_run_sql(source: _Source, bar_id) -> str:
    return (
        f"{resolution_cte(source, bar_id, lock=False)}\n"
        "SELECT reason, server_id IS NOT NULL, count(*) FROM resolved GROUP BY 1, 2"
    )


def pending_ids_sql(source: _Source, bar_id) -> str:
    return (
        f"SELECT t.id, t.bar_id, {'t.server_name' if source.has_server_name else 'NULL::text'} "
        f"FROM {source.table} t WHERE t.id > %(after)s AND t.id <= %(upper)s AND t.server_id IS NULL"
        f"{_bar_filter('t', bar_id)} "
        f"AND NOT EXISTS (SELECT 1 FROM migration_server_id_log l WHERE l.{source.log_column} = t.id) ORDER BY t.id"
    )


def pending_count_sql(source: _Source, bar_id) -> str:
    return (
        f"SELECT count(*) FROM {source.table} t WHERE t.server_id IS NULL{_bar_filter('t', bar_id)} "
        f"AND NOT EXISTS (SELECT 1 FROM migration_server_id_log l WHERE l.{source.log_column} = t.id)"
    )


def normalised_names(raw_names) -> tuple[list[str], list[str]]:
    """The batch's distinct typed names and their normal forms (Python's normalisation, the only one)."""
    raw = [name for name in (raw_names or []) if name is not None]
    return raw, [normalize_server_name(name) for name in raw]


# --- Batches ------------------------------------------------------------------------------------------


@dataclass
class BatchOutcome:
    upper: int | None
    groups: list[tuple[str | None, bool, int]]
    elapsed_ms: int = 0


def _is_timeout(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    return isinstance(cause, psycopg.errors.QueryCanceled | psycopg.errors.LockNotAvailable)


# SQLSTATE classes that belong to some row's data, not to the job, its SQL or the server: data exceptions,
# integrity violations, triggered-action errors and PL/pgSQL RAISE (a trigger refusing the row).
ROW_ERROR_SQLSTATE_CLASSES = ("22", "23", "27", "P0")


def _is_row_error(exc: BaseException) -> bool:
    """True when retrying the batch row by row can isolate the culprit (see ROW_ERROR_SQLSTATE_CLASSES)."""
    sqlstate = getattr(exc.__cause__, "sqlstate", None) or ""
    return sqlstate[:2] in ROW_ERROR_SQLSTATE_CLASSES and not _is_timeout(exc)


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
    cursor, source: _Source, bar_id, after: int, size: int, limit: int | None = None
) -> tuple[int | None, list[str], list[str]]:
    cursor.execute(
        window_sql(source, bar_id, bounded=limit is not None),
        {"after": after, "size": size, "bar_id": bar_id, "limit": limit},
    )
    upper, raw_names = cursor.fetchone()
    raw, norm = normalised_names(raw_names)
    return upper, raw, norm


def _write_batch(cursor, source: _Source, params: dict) -> list[tuple[str | None, bool, int]]:
    """Resolve and write one key range in the current transaction."""
    cursor.execute(write_sql(source, params["bar_id"]), params)
    return cursor.fetchall()


def _write_rows_one_by_one(cursor, source: _Source, params: dict) -> list[tuple[str | None, bool, int]]:
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


# --- Runs ---------------------------------------------------------------------------------------------


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


def _locks(run_id: int, range_id: int) -> bool:
    """Take a range for this session: its exclusive lock, and a shared hold on the run (which tells the
    watchdog, and a finisher, that someone drives the run). Both or neither."""
    if not db_sessions.try_lock(RANGE_LOCK_KEY, range_id):
        return False
    if db_sessions.try_lock(LOCK_KEY, run_id, shared=True):
        return True
    db_sessions.unlock(RANGE_LOCK_KEY, range_id)
    return False


def _release(rng: BackfillRange | None) -> None:
    if rng is None or rng.pk not in _HELD:
        return
    _HELD.discard(rng.pk)
    db_sessions.unlock(RANGE_LOCK_KEY, rng.pk)
    db_sessions.unlock(LOCK_KEY, rng.run_id, shared=True)


def split_ranges(source: _Source, bar_id, count: int, after: int) -> list[tuple[int, int | None]]:
    """`count` disjoint key ranges of equal width over the ids after `after` (ids are dense, so about equal
    row counts); the first starts at `after`, the last has no upper bound, so rows inserted during the run are
    walked too."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT min(t.id), max(t.id) FROM {source.table} t WHERE t.id > %(after)s{_bar_filter('t', bar_id)}",
            {"after": after, "bar_id": bar_id},
        )
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


def _claim(run: BackfillRun) -> BackfillRange | None:
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
            _release(rng)
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
                _release(held)
                held = None
                finished = _finish_unless_finishing(run)
                return Slice(run=finished or run, drove=finished is not None, batches=batches)
            # A slice always does at least one batch, so a chain of slices cannot spin without progress.
            out_of_time = deadline is not None and batches and time.monotonic() >= deadline
            if out_of_time or (max_batches is not None and batches >= max_batches):
                return Slice(run=run, drove=True, batches=batches)
            if held is None or held.done or held.phase != run.phase:
                _release(held)
                held = _claim(run)
                if held is None:
                    return Slice(run=run, drove=False, batches=batches)
                if on_free_ranges is not None and (waiting := free_ranges(run_id)):
                    on_free_ranges(waiting)
            try:
                outcome = _drive_one_batch(run, held)
                consecutive_timeouts = 0
                _regrow_if_quick(run, outcome)
            except DatabaseError as exc:
                if not _is_timeout(exc):
                    _fail(run, exc)
                    raise
                consecutive_timeouts += 1
                _shrink_after_timeout(run, exc)
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
        _release(held)


def _drive_one_batch(run: BackfillRun, rng: BackfillRange) -> BatchOutcome:
    try:
        return _run_one_batch(run, rng)
    except DatabaseError as exc:
        if not _is_row_error(exc) or run.dry_run:
            raise
        logger.warning("backfill run %s: batch after %s failed (%s); retrying row by row", run.pk, rng.last_id, exc)
        return _run_one_batch(run, rng, row_by_row=True)


def _regrow_if_quick(run: BackfillRun, outcome: BatchOutcome) -> None:
    """A batch halved after a timeout grows back (doubling, never past the configured size) once a batch takes
    under a quarter of the statement timeout: a passing load spike must not leave a run at tiny batches, whose
    per-batch cost then dominates; doubling a batch that took under 25 % keeps the next one well under it."""
    quick = outcome.upper is not None and outcome.elapsed_ms * 4 < settings.BACKFILL_STATEMENT_TIMEOUT_MS
    if quick and run.batch_size < run.configured_batch_size:
        BackfillRun.objects.filter(pk=run.pk).update(batch_size=Least(F("batch_size") * 2, F("configured_batch_size")))


def _shrink_after_timeout(run: BackfillRun, exc: BaseException) -> None:
    size = min(run.batch_size, max(settings.BACKFILL_MIN_BATCH_SIZE, run.batch_size // 2))  # never grows
    logger.warning("backfill run %s: batch of %s timed out (%s); next size %s", run.pk, run.batch_size, exc, size)
    BackfillRun.objects.filter(pk=run.pk).update(
        batch_size=Least(F("batch_size"), size), timeouts=F("timeouts") + 1, updated_at=timezone.now()
    )


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
