"""Reads of the audit-log pages: the product's audit log, its per-minute server_id error chart and the runbook's
root-cause query 1 over it."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.template.defaultfilters import pluralize
from django.utils import timezone

from adminpanel import runbook_sql
from adminpanel.charts import Chart, SeriesPoint, column_chart
from adminpanel.models import AuditLog
from adminpanel.sql_probe import time_limited_cursor
from monitoring.health.health_checks import SERVER_ID_ERRORS
from monitoring.health.selectors import server_id_errors_per_minute


def audit_log_queryset() -> QuerySet:
    """The audit logs with their bar and user, for the filtered list and the CSV export."""
    return AuditLog.objects.select_related("bar", "user")


@dataclass(frozen=True)
class ErrorChart:
    """server_id errors per minute over the last hour (runbook 4.2 "Error Tracking"), laid out for SVG. The
    window is [start, end]: from the start of the first minute drawn to the moment it was counted."""

    points: list[SeriesPoint]  # at = minute, value = errors, extra = bars affected
    chart: Chart
    total: int
    peak: int
    sql: str
    start: datetime | None = None
    end: datetime | None = None


def error_chart(*, minutes: int | None = None, now: datetime | None = None) -> ErrorChart:
    """The audit-log page's chart: the same rows as the dashboard and the health check."""
    minutes = minutes or settings.LOGS_CHART_MINUTES
    now = now or timezone.now()
    points = server_id_errors_per_minute(now=now, minutes=minutes)
    counts = [int(p.value or 0) for p in points]
    chart = column_chart(
        points,
        width=720,
        height=140,
        fmt="{:.0f}",
        unit="/min",
        tick_every=10,
        describe=lambda p, when: f"{when}: {p.value:.0f} error{pluralize(p.value)}, {p.extra} bar{pluralize(p.extra)}",
    )
    sql = (
        "SELECT DATE_TRUNC('minute', created_at) AS minute, COUNT(*) AS error_count,\n"
        "       COUNT(DISTINCT bar_id) AS affected_bars\n"
        f"FROM audit_logs\nWHERE created_at > NOW() - INTERVAL '{minutes} minutes'\n  AND {SERVER_ID_ERRORS}\n"
        "GROUP BY minute ORDER BY minute DESC"
    )
    start = points[0].at if points else now
    return ErrorChart(
        points=points, chart=chart, total=sum(counts), peak=max(counts, default=0), sql=sql, start=start, end=now
    )


SERVER_ID_ERROR_PATTERNS = f"""
SELECT error_type, COUNT(*) AS count, MAX(created_at) AS last_occurrence
FROM audit_logs
WHERE created_at >= %(start)s AND created_at <= %(end)s AND {SERVER_ID_ERRORS}
GROUP BY error_type
ORDER BY count DESC, error_type
"""  # noqa: S608 (SERVER_ID_ERRORS is a constant)


def server_id_error_patterns(*, start: datetime, end: datetime) -> tuple[list, str]:
    """The runbook's RCA query 1 with the chart's definition of a server_id error (error level, message
    mentions server_id or serverId) and the chart's window, so the two and the filtered list agree."""
    with time_limited_cursor(settings.LOGS_SUMMARY_STATEMENT_TIMEOUT_MS) as cursor:
        cursor.execute(SERVER_ID_ERROR_PATTERNS, {"start": start, "end": end})
        rows = cursor.fetchall()
    return rows, SERVER_ID_ERROR_PATTERNS.strip()


def audit_error_patterns(*, start: datetime | None = None, end: datetime | None = None) -> tuple[list, str]:
    """The runbook's RCA query 1: error types mentioning server_id in the last hour, or between `start` and `end`
    (an incident's window on the root-cause page) when both are given."""
    windowed = start is not None and end is not None
    sql = runbook_sql.RCA_AUDIT_ERROR_PATTERNS_WINDOW if windowed else runbook_sql.RCA_AUDIT_ERROR_PATTERNS
    with time_limited_cursor(settings.LOGS_SUMMARY_STATEMENT_TIMEOUT_MS) as cursor:
        cursor.execute(sql, {"start": start, "end": end} if windowed else None)
        rows = cursor.fetchall()
    return rows, runbook_sql.RCA_AUDIT_ERROR_PATTERNS.strip()
