"""Read-side queries for the migration-log and backfill pages.

Lists are keyset-paginated (no OFFSET, no exact COUNT(*) of a table of millions per page view); summaries
are the runbook's own root-cause queries (``adminpanel.runbook_sql``), run under a statement timeout.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from adminpanel import runbook_sql
from adminpanel.models import Bar, MigrationServerIdLog, User
from adminpanel.paging import estimated_row_counts
from adminpanel.sql_probe import time_limited_cursor

# --- Migration log --------------------------------------------------------------------------------------


def migration_log_queryset() -> QuerySet:
    return MigrationServerIdLog.objects.select_related("bar")


def users_by_id(ids: Iterable) -> dict:
    """Usernames for the resolved ids on one page (one query, whatever the page)."""
    wanted = {i for i in ids if i}
    if not wanted:
        return {}
    return dict(User.objects.filter(pk__in=wanted).values_list("pk", "username"))


def log_row_estimates() -> dict[str, int]:
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


def migration_summary(*, bars_per_reason: int = 5, top_bars: int = 20) -> MigrationSummary:
    """The runbook's root-cause summaries of the migration log: by reason with bars, per bar, most recent."""
    with time_limited_cursor(settings.LOGS_SUMMARY_STATEMENT_TIMEOUT_MS) as cursor:
        results = _fetch(cursor, runbook_sql.STEP6_BACKFILL_RESULTS)
        reasons = _fetch(cursor, runbook_sql.RCA_FALLBACKS_BY_REASON)
        per_bar = _fetch(cursor, FALLBACKS_PER_BAR, [top_bars])
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
