"""Read-side queries for the migration-log, audit-log and backfill pages.

Lists are keyset-paginated (no OFFSET, no exact COUNT(*) of a table of millions per page view); summaries
are the runbook's own root-cause queries (``adminpanel.runbook_sql``), run under a statement timeout.
"""

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from adminpanel import runbook_sql
from adminpanel.models import AuditLog, Bar, MigrationServerIdLog, User
from adminpanel.selectors import estimated_row_counts
from adminpanel.spreadsheet import defuse_formula

# --- Keyset pagination ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_cursor: str | None  # older rows
    prev_cursor: str | None  # newer rows
    is_first: bool


class IdKeyset:
    """Newest first by primary key (the migration log: ids follow insertion)."""

    order = ("-id",)

    @staticmethod
    def cursor_of(row) -> str:
        return str(row.pk)

    @staticmethod
    def older_than(cursor: str) -> Q:
        return Q(pk__lt=int(cursor))

    @staticmethod
    def newer_than(cursor: str) -> Q:
        return Q(pk__gt=int(cursor))

    @staticmethod
    def valid(cursor: str) -> bool:
        return cursor.isdigit()


class CreatedKeyset:
    """Newest first by (created_at, id): audit logs are reported with their own timestamps."""

    order = ("-created_at", "-id")

    @staticmethod
    def cursor_of(row) -> str:
        return f"{row.created_at.isoformat()}_{row.pk}"

    @staticmethod
    def _split(cursor: str) -> tuple[datetime, int]:
        stamp, _, pk = cursor.rpartition("_")
        return parse_datetime(stamp), int(pk)

    @classmethod
    def older_than(cls, cursor: str) -> Q:
        stamp, pk = cls._split(cursor)
        # The first term lets PostgreSQL bound the index scan on created_at.
        return Q(created_at__lte=stamp) & (Q(created_at__lt=stamp) | Q(pk__lt=pk))

    @classmethod
    def newer_than(cls, cursor: str) -> Q:
        stamp, pk = cls._split(cursor)
        return Q(created_at__gte=stamp) & (Q(created_at__gt=stamp) | Q(pk__gt=pk))

    @classmethod
    def valid(cls, cursor: str) -> bool:
        try:
            stamp, _ = cls._split(cursor)
        except ValueError:
            return False
        return stamp is not None


def keyset_page(queryset: QuerySet, *, keyset, size: int, after: str = "", before: str = "") -> KeysetPage:
    """One page of `queryset` newest first; `after` pages to older rows, `before` back to newer ones."""
    if before and keyset.valid(before):
        reverse = tuple(field[1:] if field.startswith("-") else f"-{field}" for field in keyset.order)
        rows = list(queryset.filter(keyset.newer_than(before)).order_by(*reverse)[: size + 1])
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        return KeysetPage(
            rows=rows,
            next_cursor=keyset.cursor_of(rows[-1]) if rows else None,
            prev_cursor=keyset.cursor_of(rows[0]) if rows and has_newer else None,
            is_first=not has_newer,
        )
    ordered = queryset.order_by(*keyset.order)
    is_first = not (after and keyset.valid(after))
    if not is_first:
        ordered = ordered.filter(keyset.older_than(after))
    rows = list(ordered[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows=rows,
        next_cursor=keyset.cursor_of(rows[-1]) if rows and has_older else None,
        prev_cursor=keyset.cursor_of(rows[0]) if rows and not is_first else None,
        is_first=is_first,
    )


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
    return estimated_row_counts(["migration_server_id_log", "audit_logs"])


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


def _summary_timeout(cursor) -> None:
    cursor.execute(
        "SELECT set_config('statement_timeout', %s, true)", [f"{settings.LOGS_SUMMARY_STATEMENT_TIMEOUT_MS}ms"]
    )


def migration_summary(*, bars_per_reason: int = 5, top_bars: int = 20) -> MigrationSummary:
    """The runbook's root-cause summaries of the migration log: by reason with bars, per bar, most recent."""
    with transaction.atomic(), connection.cursor() as cursor:
        _summary_timeout(cursor)
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


# --- Audit logs -----------------------------------------------------------------------------------------


def audit_log_queryset() -> QuerySet:
    return AuditLog.objects.select_related("bar", "user")


# The runbook's "Error Tracking" dashboard query (4.2) with its window made explicit: the runbook takes the
# 60 most recent minutes that had errors; the chart wants the last hour, so the hour bounds the scan.
ERROR_TRACKING_LAST_HOUR = """
SELECT
  DATE_TRUNC('minute', created_at) as minute,
  COUNT(*) as error_count,
  COUNT(DISTINCT bar_id) as affected_bars
FROM audit_logs
WHERE error_message LIKE '%%server_id%%'
  AND created_at > NOW() - make_interval(mins => %s)
GROUP BY minute
ORDER BY minute DESC
LIMIT %s
"""


@dataclass(frozen=True)
class MinuteBar:
    minute: datetime
    count: int
    affected_bars: int
    x: float
    y: float
    height: float


@dataclass(frozen=True)
class ErrorChart:
    bars: list[MinuteBar]
    peak: int
    total: int
    width: int
    height: int
    bar_width: float
    ticks: list  # (x, label)
    sql: str


def error_chart(*, minutes: int | None = None, now: datetime | None = None, width: int = 720, height: int = 140):
    """Per-minute counts of audit logs mentioning server_id over the last `minutes`, laid out as SVG bars."""
    minutes = minutes or settings.LOGS_CHART_MINUTES
    with transaction.atomic(), connection.cursor() as cursor:
        _summary_timeout(cursor)
        cursor.execute("SELECT DATE_TRUNC('minute', NOW())")
        current = cursor.fetchone()[0]
        rows = _fetch(cursor, ERROR_TRACKING_LAST_HOUR, [minutes, minutes + 1])
    counts = {minute: (count, bars) for minute, count, bars in rows}
    peak = max((count for count, _ in counts.values()), default=0)
    plot_height = height - 20
    slot = width / minutes
    bars = []
    for i in range(minutes):
        minute = current - timedelta(minutes=minutes - 1 - i)
        count, affected = counts.get(minute, (0, 0))
        bar_height = round(plot_height * count / peak, 1) if peak else 0.0
        bars.append(
            MinuteBar(
                minute=minute,
                count=count,
                affected_bars=affected,
                x=round(i * slot, 1),
                y=round(plot_height - bar_height, 1),
                height=bar_height,
            )
        )
    ticks = [(round(i * slot, 1), timezone.localtime(bars[i].minute).strftime("%H:%M")) for i in range(0, minutes, 10)]
    return ErrorChart(
        bars=bars,
        peak=peak,
        total=sum(b.count for b in bars),
        width=width,
        height=height,
        bar_width=round(max(slot - 1, 1), 1),
        ticks=ticks,
        sql=ERROR_TRACKING_LAST_HOUR.strip()
        .replace("%%", "%")
        .replace("%s", str(minutes), 1)
        .replace("%s", str(minutes + 1)),
    )


def audit_error_patterns() -> tuple[list, str]:
    """The runbook's RCA query 1: error types of the last hour mentioning server_id."""
    with transaction.atomic(), connection.cursor() as cursor:
        _summary_timeout(cursor)
        rows = _fetch(cursor, runbook_sql.RCA_AUDIT_ERROR_PATTERNS)
    return rows, runbook_sql.RCA_AUDIT_ERROR_PATTERNS.strip()


# --- CSV export -----------------------------------------------------------------------------------------


class _Echo:
    def write(self, value):
        return value


def csv_safe(value) -> str:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading apostrophe."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return defuse_formula(text)


def stream_csv(queryset: QuerySet, *, keyset, header: list[str], row_values, chunk: int | None = None) -> Iterator:
    """CSV lines for every row of `queryset`, fetched in keyset chunks (no long-lived cursor, no OFFSET)."""
    chunk = chunk or settings.LOGS_EXPORT_CHUNK_ROWS
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    cursor = ""
    while True:
        page = keyset_page(queryset, keyset=keyset, size=chunk, after=cursor)
        for row in page.rows:
            yield writer.writerow([csv_safe(v) for v in row_values(row)])
        if not page.next_cursor:
            return
        cursor = page.next_cursor
