"""The root-cause page (runbook "Root Cause Analysis After Rollback") for a window: an incident's (from
INCIDENT_RCA_LOOKBACK_MINUTES before it began until it was resolved, or now), the hour before a rollback event,
or the last hour. Each of the runbook's three queries gives its figure and a summary; the rows behind each
figure are listed by key (no OFFSET, no COUNT of the table) and exported as CSV."""

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet
from django.db.models.fields.json import KeyTextTransform
from django.utils import timezone

from adminpanel import runbook_sql
from adminpanel.models import AuditLog, MigrationServerIdLog, OperatingMode, Sale
from adminpanel.paging import CreatedKeyset, IdKeyset
from adminpanel.sql_probe import time_limited_cursor
from backfill.selectors import migration_summary
from monitoring.audit.selectors import audit_error_patterns
from monitoring.models import Incident

ERRORS, FALLBACKS, ORPHANS = "errors", "fallbacks", "orphans"
KINDS = (ERRORS, FALLBACKS, ORPHANS)


@dataclass(frozen=True)
class RcaWindow:
    start: datetime
    end: datetime
    incident: Incident | None = None
    until: datetime | None = None  # the moment of a rollback event the page was opened from

    @property
    def minutes(self) -> int:
        return round((self.end - self.start).total_seconds() / 60)


def lookback() -> timedelta:
    return timedelta(minutes=settings.INCIDENT_RCA_LOOKBACK_MINUTES)


def window_for_incident(incident: Incident, *, now: datetime | None = None) -> RcaWindow:
    """From the look-back before the incident began until it was resolved (or now)."""
    return RcaWindow(incident.started_at - lookback(), incident.resolved_at or now or timezone.now(), incident)


def window_until(until: datetime | None = None) -> RcaWindow:
    """The look-back (the runbook's last hour) ending at `until`, or now."""
    end = until or timezone.now()
    return RcaWindow(end - lookback(), end, until=until)


@dataclass(frozen=True)
class RcaSection:
    kind: str
    title: str
    question: str
    figure: int
    unit: str
    columns: list[str]
    rows: list[list]
    runbook_sql: str
    note: str
    empty: str


def _when(moment: datetime | None) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}" if moment else ""


def _errors(window: RcaWindow) -> RcaSection:
    rows, sql = audit_error_patterns(start=window.start, end=window.end)
    return RcaSection(
        kind=ERRORS,
        title="1. Errors by type",
        question="Which errors mentioning server_id did the app log, and how often?",
        figure=sum(count for _, count, _ in rows),
        unit="audit logs mentioning server_id",
        columns=["Error type", "Logs", "Last occurrence"],
        rows=[[error_type or "(no type)", count, _when(last)] for error_type, count, last in rows],
        runbook_sql=sql,
        note="Counted over the window above (the runbook counts the last hour).",
        empty="No audit log mentioning server_id in this window.",
    )


def _fallbacks() -> RcaSection:
    summary = migration_summary()
    return RcaSection(
        kind=FALLBACKS,
        title="2. Fallbacks by reason",
        question="Did the server_id backfill fall back unexpectedly, for which reasons and which bars?",
        figure=sum(reason.count for reason in summary.by_reason),
        unit="backfilled rows that used a fallback",
        columns=["Reason", "Rows", "Bars", "For example"],
        rows=[
            [
                reason.reason or "(no reason)",
                reason.count,
                reason.affected_bar_count,
                ", ".join(bar.name for bar in reason.sample_bars),
            ]
            for reason in summary.by_reason
        ],
        runbook_sql=summary.sql["by_reason"],
        note="The migration log is written by the backfill, not during the incident: all of it, as in the runbook.",
        empty="No backfilled row used a fallback (or the backfill has not run yet: see the Backfill page).",
    )


def _orphans(window: RcaWindow) -> RcaSection:
    # One scan of the window's sales, per bar: the figure (the runbook's count) is their sum.
    with time_limited_cursor(settings.LOGS_SUMMARY_STATEMENT_TIMEOUT_MS):
        per_bar = list(
            orphaned_sales(window).values("bar__name").annotate(sales=Count("pk")).order_by("-sales", "bar__name")
        )
    return RcaSection(
        kind=ORPHANS,
        title="3. Orphaned sales",
        question="Which sales in simplified-mode bars were recorded without a server_id?",
        figure=sum(row["sales"] for row in per_bar),
        unit="sales without server_id in simplified-mode bars",
        columns=["Bar", "Sales without server_id"],
        rows=[[row["bar__name"], row["sales"]] for row in per_bar[:10]],
        runbook_sql=runbook_sql.RCA_ORPHANED_SALES_LAST_HOUR.strip(),
        note="Counted over the window above (the runbook counts the last hour). The ten bars with the most.",
        empty="No sale without server_id in a simplified-mode bar in this window.",
    )


def root_cause(window: RcaWindow) -> list[RcaSection]:
    """The runbook's three RCA queries for the window, each with its figure and summary."""
    return [_errors(window), _fallbacks(), _orphans(window)]


# --- The rows behind each figure --------------------------------------------------------------------------
def server_id_errors(window: RcaWindow) -> QuerySet:
    """RCA 1's rows: the runbook's ``error_message LIKE '%server_id%'`` (``_`` matches any one character there,
    as ``.`` does in this regular expression)."""
    return AuditLog.objects.select_related("bar", "user").filter(
        created_at__gt=window.start, created_at__lte=window.end, error_message__regex=r"server.id"
    )


def fallbacks() -> QuerySet:
    return MigrationServerIdLog.objects.select_related("bar").filter(fallback_used=True)


def orphaned_sales(window: RcaWindow) -> QuerySet:
    """RCA 3's rows: the window's sales without server_id whose bar is in simplified mode (joined, as the health
    check counts them)."""
    return (
        Sale.objects.select_related("bar")
        .alias(mode=KeyTextTransform("operatingMode", "bar__settings"))
        .filter(
            created_at__gt=window.start,
            created_at__lte=window.end,
            server__isnull=True,
            mode=OperatingMode.SIMPLIFIED,
        )
    )


@dataclass(frozen=True)
class RowSource:
    """How one figure's rows are listed and exported: the query, its key order, and the CSV columns."""

    title: str
    queryset: object  # (window) -> QuerySet
    keyset: type
    header: list[str]
    values: object  # (row) -> list


def _error_values(row: AuditLog) -> list:
    bar = row.bar.name if row.bar else ""
    user = row.user.username if row.user else ""
    return [row.pk, row.created_at, row.level, row.error_type, row.error_message, bar, row.bar_id, user,
            json.dumps(row.payload, ensure_ascii=False, sort_keys=True)]  # fmt: skip


def _fallback_values(row: MigrationServerIdLog) -> list:
    source = ("sale", row.sale_id) if row.sale_id else ("consignment", row.consignment_id)
    if row.return_id:
        source = ("return", row.return_id)
    return [row.pk, row.created_at, source[0], source[1], row.bar.name if row.bar else "", row.bar_id,
            row.server_name, row.fallback_reason, row.resolved_server_id]  # fmt: skip


def _orphan_values(row: Sale) -> list:
    return [row.pk, row.created_at, row.bar.name, row.bar_id, row.server_name, row.amount, row.created_by_id]


ROW_SOURCES = {
    ERRORS: RowSource(
        "Audit logs mentioning server_id",
        server_id_errors,
        CreatedKeyset,
        ["id", "created_at", "level", "error_type", "error_message", "bar", "bar_id", "user", "payload"],
        _error_values,
    ),
    FALLBACKS: RowSource(
        "Backfilled rows that used a fallback",
        lambda window: fallbacks(),
        IdKeyset,
        [
            "id",
            "created_at",
            "source",
            "source_id",
            "bar",
            "bar_id",
            "server_name",
            "fallback_reason",
            "resolved_server_id",
        ],
        _fallback_values,
    ),  # fmt: skip
    ORPHANS: RowSource(
        "Sales without server_id in simplified-mode bars",
        orphaned_sales,
        CreatedKeyset,
        ["sale_id", "created_at", "bar", "bar_id", "server_name", "amount", "created_by_id"],
        _orphan_values,
    ),
}
