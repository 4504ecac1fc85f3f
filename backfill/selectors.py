"""Read-side queries for the migration-log and backfill pages.

Lists are keyset-paginated (no OFFSET, no exact COUNT(*) of a table of millions per page view); summaries
are the runbook's own root-cause queries (``adminpanel.runbook_sql``), run under a statement timeout.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from adminpanel import runbook_sql
from adminpanel.models import AuthUser, Bar, MigrationServerIdLog
from adminpanel.paging import estimated_row_counts
from adminpanel.pickers import user_label
from adminpanel.request_memo import memoized
from adminpanel.sql_probe import time_limited_cursor
from backfill.models import BackfillRun, ValidationRun

# --- Migration log --------------------------------------------------------------------------------------


def migration_log_queryset() -> QuerySet:
    """The migration log's rows with their bars, for the filtered list and the CSV export."""
    return MigrationServerIdLog.objects.select_related("bar")


def users_by_id(ids: Iterable) -> dict:
    """ "Display Name (login)" for the resolved ids on one page (one query, whatever the page)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return {user.pk: user_label(user) for user in AuthUser.objects.filter(pk__in=wanted)}


def log_row_estimates() -> dict[str, int]:
    """The migration log's estimated row count (the planner's, never a count of the table)."""
    return estimated_row_counts(["migration_server_id_log"])


@dataclass(frozen=True)
class ReasonSummary:
    reason: str | None
    count: int
    affected_bar_count: int
    sample_bars: list


@dataclass(frozen=True)
class MigrationSummary:
    results: list  # (fallback_used, count): runbook step 6 "Backfill results"
    by_reason: list[ReasonSummary]  # runbook RCA 2 "unexpected fallbacks"
    by_bar: list  # (bar, fallbacks, rows)
    recent: list  # runbook step 6 "Check for warnings": the 10 most recent fallbacks
    sql: dict


FALLBACKS_PER_BAR = """
SELECT bar_id, COUNT(*) FILTER (WHERE fallback_used) AS fallbacks, COUNT(*) AS rows
FROM migration_server_id_log
GROUP BY bar_id
HAVING COUNT(*) FILTER (WHERE fallback_used) > 0
ORDER BY fallbacks DESC, bar_id
LIMIT %s
"""


def _fetch(cursor, sql: str, params=None) -> list[tuple]:
    cursor.execute(sql, params)
    return cursor.fetchall()


# The same figures as the runbook's queries above, read from the log's summary that the panel's triggers keep
# (adminpanel/product_sql/panel_support.sql: rows per bar, fallback used, reason and resolved), so a page reads some
# thousands of rows instead of every backfilled row; tests/backfill/test_log_summary.py holds them equal.
SUMMARY_RESULTS = """
SELECT fallback_used, sum(logged)::bigint FROM migration_log_summary GROUP BY 1 HAVING sum(logged) > 0
"""
SUMMARY_BY_REASON = """
WITH per_bar AS (
  SELECT fallback_reason, bar_id, sum(logged) AS n FROM migration_log_summary
  WHERE fallback_used GROUP BY 1, 2 HAVING sum(logged) > 0)
SELECT fallback_reason, sum(n)::bigint AS count, array_agg(bar_id ORDER BY bar_id) AS affected_bars
FROM per_bar GROUP BY 1 ORDER BY count DESC, fallback_reason
"""
SUMMARY_PER_BAR = """
SELECT bar_id, sum(logged) FILTER (WHERE fallback_used)::bigint AS fallbacks, sum(logged)::bigint AS rows
FROM migration_log_summary
GROUP BY bar_id
HAVING sum(logged) FILTER (WHERE fallback_used) > 0
ORDER BY fallbacks DESC, bar_id
LIMIT %s
"""
SUMMARY_TOTALS = """
SELECT coalesce(sum(logged), 0)::bigint,
       coalesce(sum(logged) FILTER (WHERE NOT fallback_used), 0)::bigint,
       coalesce(sum(logged) FILTER (WHERE fallback_used), 0)::bigint,
       coalesce(sum(logged) FILTER (WHERE fallback_used AND resolved), 0)::bigint,
       coalesce(sum(logged) FILTER (WHERE fallback_used AND NOT resolved AND fallback_reason NOT LIKE 'failed:%'),
                0)::bigint,
       coalesce(sum(logged) FILTER (WHERE fallback_reason LIKE 'failed:%'), 0)::bigint
FROM migration_log_summary
"""


def migration_summary(*, bars_per_reason: int = 5, top_bars: int = 20) -> MigrationSummary:
    """The runbook's root-cause summaries of the migration log (by reason with bars, per bar, most recent), from
    the log's summary kept by triggers; the runbook's own SQL is what the page shows."""
    with time_limited_cursor(settings.LOGS_SUMMARY_STATEMENT_TIMEOUT_MS) as cursor:
        results = _fetch(cursor, SUMMARY_RESULTS)
        reasons = _fetch(cursor, SUMMARY_BY_REASON)
        per_bar = _fetch(cursor, SUMMARY_PER_BAR, [top_bars])
        cursor.execute(runbook_sql.STEP6_RECENT_FALLBACKS)
        columns = [col.name for col in cursor.description]
        recent = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
    bar_ids = {bar_id for _, _, bars in reasons for bar_id in (bars or [])[:bars_per_reason]}
    bar_ids |= {row[0] for row in per_bar} | {row["bar_id"] for row in recent}
    bars = Bar.objects.in_bulk([b for b in bar_ids if b])
    by_reason = [
        ReasonSummary(
            reason=reason,
            count=count,
            affected_bar_count=len([b for b in (affected or []) if b]),
            sample_bars=[bars.get(b) for b in (affected or [])[:bars_per_reason] if b and b in bars],
        )
        for reason, count, affected in reasons
    ]
    for row in recent:
        row["bar"] = bars.get(row["bar_id"])
    return MigrationSummary(
        results=sorted(results, key=lambda row: row[0]),
        by_reason=by_reason,
        by_bar=[(bars.get(bar_id), fallbacks, rows) for bar_id, fallbacks, rows in per_bar],
        recent=recent,
        sql={
            "results": runbook_sql.STEP6_BACKFILL_RESULTS.strip(),
            "by_reason": runbook_sql.RCA_FALLBACKS_BY_REASON.strip(),
            "by_bar": FALLBACKS_PER_BAR.strip().replace("%s", str(top_bars)),
            "recent": runbook_sql.STEP6_RECENT_FALLBACKS.strip(),
        },
    )


# --- The words both the backfill page and the validation use for what the backfill did ---------------------

OUTCOME_WORDS = {
    "examined": "rows examined",
    "by_mapping": "resolved by mapping",
    "fallback_used": "fallback used",
    "by_fallback": "resolved by the recording user (fallback)",
    "left_null": "left without a server (server_id NULL)",
    "failed": "failed (row not written)",
}

LOG_TOTALS_SQL = """
SELECT COUNT(*) AS examined,
       COUNT(*) FILTER (WHERE NOT fallback_used) AS by_mapping,
       COUNT(*) FILTER (WHERE fallback_used) AS fallback_used,
       COUNT(*) FILTER (WHERE fallback_used AND resolved_server_id IS NOT NULL) AS by_fallback,
       COUNT(*) FILTER (WHERE fallback_used AND resolved_server_id IS NULL
                        AND fallback_reason NOT LIKE 'failed:%') AS left_null,
       COUNT(*) FILTER (WHERE fallback_reason LIKE 'failed:%') AS failed
FROM migration_server_id_log
"""


@dataclass(frozen=True)
class Outcomes:
    """What the backfill did to a set of rows, in the words of ``OUTCOME_WORDS``: by_mapping + fallback_used =
    examined; fallback_used = by_fallback + left_null + failed."""

    scope: str
    examined: int
    by_mapping: int
    fallback_used: int
    by_fallback: int
    left_null: int
    failed: int

    def sentence(self) -> str:
        return (
            f"{self.scope}: {self.examined:,} {OUTCOME_WORDS['examined']}; {self.by_mapping:,} "
            f"{OUTCOME_WORDS['by_mapping']}; {self.fallback_used:,} with the {OUTCOME_WORDS['fallback_used']}, of "
            f"which {self.by_fallback:,} {OUTCOME_WORDS['by_fallback']}, {self.left_null:,} "
            f"{OUTCOME_WORDS['left_null']} and {self.failed:,} {OUTCOME_WORDS['failed']}"
        )


WHOLE_LOG_SCOPE = "Whole migration log (every run so far)"


def log_totals(cursor=None) -> Outcomes:
    """The migration log's totals over every run: the figures the validation's "Backfill results" line shows.
    With a cursor (the validation) they are counted from the rows; without, read from the log's summary."""
    if cursor is None:
        with time_limited_cursor(settings.LOGS_SUMMARY_STATEMENT_TIMEOUT_MS) as own:
            own.execute(SUMMARY_TOTALS)
            row = own.fetchone()
    else:
        cursor.execute(LOG_TOTALS_SQL)
        row = cursor.fetchone()
    return Outcomes(WHOLE_LOG_SCOPE, *row)


def run_outcomes(run) -> Outcomes:
    """One run's figures in the same words (counted by the run as it went; a dry run writes no log rows)."""
    where = run.bar.name if run.bar_id and run.bar else "every bar"
    scope = f"Run {run.pk} only ({where}{', dry run: nothing written' if run.dry_run else ''})"
    return Outcomes(
        scope,
        examined=run.rows_done,
        by_mapping=run.resolved_directly,
        fallback_used=run.rows_done - run.resolved_directly,
        by_fallback=run.resolved_by_fallback,
        left_null=run.unresolved - run.failed_rows,  # the run counts a failed row as unresolved too
        failed=run.failed_rows,
    )


# --- For the apps above (DESIGN §2: the rollout reads the backfill's tables through these) ----------------------


def latest_full_backfill():
    """The latest real backfill over every bar (not a dry run, not one bar), whatever its state; read once per
    page (adminpanel.request_memo)."""
    return memoized(
        "latest_full_backfill",
        lambda: BackfillRun.objects.filter(dry_run=False, bar__isnull=True).order_by("-started_at", "-id").first(),
    )


def last_finished_full_backfill():
    """The full backfill that finished last."""
    return (
        BackfillRun.objects.filter(
            dry_run=False, bar__isnull=True, status=BackfillRun.Status.FINISHED, finished_at__isnull=False
        )
        .order_by("-finished_at")
        .first()
    )


def latest_validation():
    """The validation run started last; read once per page (adminpanel.request_memo)."""
    return memoized("latest_validation", lambda: ValidationRun.objects.order_by("-started_at", "-id").first())
