"""Read-side queries for the core pages; each returns a bounded amount of data."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import Case, Count, Q, When
from django.db.models.fields.json import KT

from adminpanel.checks import CHECKS, pg_stat_statements_installed
from adminpanel.checks import rls_statement_stats as checks_rls_statement_stats
from adminpanel.models import Alert, AuditLog, Bar, CheckResult, CheckStatus, HealthRun, OperatingMode, PhaseWindow
from adminpanel.roles import managed_bars


def estimated_row_counts(tables: list[str]) -> dict[str, int]:
    """Planner estimates (pg_class.reltuples): never an exact COUNT(*) over millions of rows per page view."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, GREATEST(reltuples, 0)::bigint FROM pg_class "
            "WHERE relkind = 'r' AND relname = ANY(%s) AND relnamespace = 'public'::regnamespace",
            [tables],
        )
        found = dict(cursor.fetchall())
    return {table: found.get(table, 0) for table in tables}


def bars_for_manager(user, limit: int = 50):
    """The first `limit` bars the user manages, with their mapping counts, in one query."""
    return managed_bars(user).annotate(mapping_count=Count("server_name_mappings")).order_by("name")[:limit]


def recent_errors(limit: int = 10):
    return AuditLog.objects.filter(level=AuditLog.Level.ERROR).select_related("bar").order_by("-created_at")[:limit]


@dataclass(frozen=True)
class Adoption:
    total: int
    simplified: int
    full: int
    unset: int

    @property
    def simplified_pct(self) -> float:
        return round(self.simplified * 100.0 / self.total, 1) if self.total else 0.0


def adoption() -> Adoption:
    """Runbook health check 1 (feature adoption rate), as counts per operating mode."""
    mode = KT("settings__operatingMode")
    counts = Bar.objects.annotate(mode=mode).aggregate(
        total=Count("pk"),
        simplified=Count("pk", filter=Q(mode=OperatingMode.SIMPLIFIED)),
        full=Count("pk", filter=Q(mode=OperatingMode.FULL)),
    )
    return Adoption(
        total=counts["total"],
        simplified=counts["simplified"],
        full=counts["full"],
        unset=counts["total"] - counts["simplified"] - counts["full"],
    )


# --- Monitoring dashboard (issue 5) ----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckRow:
    name: str
    label: str
    result: CheckResult | None

    @property
    def status(self) -> str:
        return self.result.status if self.result else "unknown"


def latest_check_rows(run) -> list[CheckRow]:
    """Every check of the suite with its result in ``run`` (None when the run lacks it), in the suite's order."""
    results = {r.check_name: r for r in run.results.all()} if run else {}
    return [CheckRow(c.name, c.label, results.get(c.name)) for c in CHECKS]


def dashboard_alerts(limit: int = 20) -> list[Alert]:
    """Unresolved alerts first (open before acknowledged, critical before warning), then the latest resolved."""
    unresolved = list(
        Alert.objects.exclude(state=Alert.State.RESOLVED)
        .select_related("acknowledged_by", "last_result")
        .annotate(
            rank=Case(
                When(state=Alert.State.OPEN, severity=CheckStatus.CRITICAL, then=0),
                When(state=Alert.State.OPEN, then=1),
                When(severity=CheckStatus.CRITICAL, then=2),
                default=3,
            )
        )
        .order_by("rank", "-opened_at")[:limit]
    )
    resolved = list(
        Alert.objects.filter(state=Alert.State.RESOLVED)
        .select_related("acknowledged_by", "last_result")
        .order_by("-resolved_at")[: max(0, limit - len(unresolved))]
    )
    return unresolved + resolved


def alert_history(*, before_id: int | None = None, page_size: int = 50) -> list[Alert]:
    """Alerts newest first, one keyset page (``before_id``) at a time."""
    qs = Alert.objects.select_related("acknowledged_by", "last_result").order_by("-id")
    if before_id:
        qs = qs.filter(id__lt=before_id)
    return list(qs[:page_size])


@dataclass(frozen=True)
class SeriesPoint:
    at: datetime
    value: float | None
    extra: int = 0


def error_tracking_per_minute(*, now: datetime, minutes: int = 60) -> list[SeriesPoint]:
    """Runbook dashboard 1: audit logs mentioning server_id per minute (and bars affected), the last hour,
    minutes without errors included as zeros."""
    start = (now - timedelta(minutes=minutes - 1)).replace(second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT date_trunc('minute', created_at) AS minute, count(*), count(DISTINCT bar_id)
            FROM audit_logs
            WHERE created_at >= %s AND created_at <= %s AND error_message LIKE '%%server_id%%'
            GROUP BY minute
            """,
            [start, now],
        )
        found = {minute: (count, bars) for minute, count, bars in cursor.fetchall()}
    points = []
    for i in range(minutes):
        minute = start + timedelta(minutes=i)
        count, bars = found.get(minute, (0, 0))
        points.append(SeriesPoint(minute, count, bars))
    return points


def resolution_success_per_hour(*, now: datetime, hours: int = 24) -> list[SeriesPoint]:
    """Runbook dashboard 2: share of each hour's sales that carry a server_id, over the last 24 hours
    (None for an hour without sales)."""
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT date_trunc('hour', created_at) AS hour, count(*), count(server_id)
            FROM sales WHERE created_at >= %s AND created_at <= %s
            GROUP BY hour
            """,
            [start, now],
        )
        found = {hour: (total, with_server) for hour, total, with_server in cursor.fetchall()}
    points = []
    for i in range(hours):
        hour = start + timedelta(hours=i)
        total, with_server = found.get(hour, (0, 0))
        points.append(SeriesPoint(hour, round(with_server * 100.0 / total, 1) if total else None, total))
    return points


def rls_statement_stats(limit: int = 8) -> list[dict] | None:
    """Runbook dashboard 3 from pg_stat_statements; None when the extension is not installed here."""
    if not pg_stat_statements_installed():
        return None
    try:
        with transaction.atomic():
            return checks_rls_statement_stats(limit=limit)
    except DatabaseError:  # installed in the database but not preloaded by the server
        return None


@dataclass(frozen=True)
class AdoptionActivity:
    adoption: Adoption
    active_simplified: int
    active_other: int


def adoption_activity(*, now: datetime) -> AdoptionActivity:
    """Runbook dashboard 4: bars per operating mode, and those with a sale in the last 24 hours."""
    active = Q(last_sale_at__gt=now - timedelta(hours=24))
    simplified = Q(mode=OperatingMode.SIMPLIFIED)
    counts = Bar.objects.annotate(mode=KT("settings__operatingMode")).aggregate(
        active_simplified=Count("pk", filter=active & simplified),
        active_other=Count("pk", filter=active & ~simplified),
    )
    return AdoptionActivity(adoption(), counts["active_simplified"], counts["active_other"])


def phase_windows(limit: int = 6) -> list[PhaseWindow]:
    """Running windows first, then the latest finished ones."""
    return list(PhaseWindow.objects.select_related("started_by").order_by("-started_at")[:limit])


def run_with_results(run_id: int):
    return HealthRun.objects.select_related("triggered_by").prefetch_related("results").filter(pk=run_id).first()
