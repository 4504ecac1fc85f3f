"""Read-side queries for the monitoring pages (dashboard, runs, alerts, phase windows, audit logs); each
returns a bounded amount of data."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import Avg, Case, Count, Max, Q, When
from django.db.models.fields.json import KT

from adminpanel.charts import SeriesPoint
from adminpanel.models import AuditLog, Bar, OperatingMode
from adminpanel.panel_schema import support_installed
from adminpanel.request_memo import memoized
from adminpanel.roles import managed_bars
from mappings import selectors as mapping_selectors
from monitoring.health.checks_performance import pg_stat_statements_installed
from monitoring.health.checks_performance import rls_statement_stats as checks_rls_statement_stats
from monitoring.health.health_checks import CHECKS, SERVER_ID_ERRORS
from monitoring.models import Alert, CheckResult, CheckStatus, HealthRun, PhaseWindow


def bars_for_manager(user, limit: int = 50) -> list[Bar]:
    """The first `limit` bars the user manages by name, each with its mapping count. Two small queries: counting
    in the same query grouped every managed bar before the limit (106 ms for a superuser at 10,000 bars and
    100,000 mappings, on every home page)."""
    bars = list(managed_bars(user).order_by("name", "pk")[:limit])
    counts = mapping_selectors.mapping_counts(bar.pk for bar in bars)
    for bar in bars:
        bar.mapping_count = counts.get(bar.pk, 0)
    return bars


def recent_errors(limit: int = 10):
    """The newest error-level audit logs with their bars."""
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


def alert_history():
    """Every alert with what its row shows (the key pager orders them newest first)."""
    return Alert.objects.select_related("acknowledged_by", "last_result")


SERVER_ID_ERRORS_PER_MINUTE = f"""
SELECT date_trunc('minute', created_at) AS minute, count(*), count(DISTINCT bar_id)
FROM audit_logs
WHERE created_at >= %s AND created_at <= %s AND {SERVER_ID_ERRORS}
GROUP BY minute
"""  # noqa: S608 (SERVER_ID_ERRORS is a constant)


def server_id_errors_per_minute(*, now: datetime, minutes: int = 60) -> list[SeriesPoint]:
    """Runbook dashboard 1: server_id errors (``health_checks.SERVER_ID_ERRORS``, the rows the health check
    counts) per minute with the bars affected, over the last `minutes`, minutes without errors as zeros."""
    start = (now - timedelta(minutes=minutes - 1)).replace(second=0, microsecond=0)
    with connection.cursor() as cursor:
        cursor.execute(SERVER_ID_ERRORS_PER_MINUTE, [start, now])
        found = {minute: (count, bars) for minute, count, bars in cursor.fetchall()}
    points = []
    for i in range(minutes):
        minute = start + timedelta(minutes=i)
        count, bars = found.get(minute, (0, 0))
        points.append(SeriesPoint(minute, count, bars))
    return points


def resolution_success_per_hour(*, now: datetime, hours: int = 24) -> list[SeriesPoint]:
    """Runbook dashboard 2: share of each hour's sales that carry a server_id, over the last 24 hours
    (None for an hour without sales), summed from the per-minute counts the sales triggers keep (the rows of
    ``sales_minute_counts``, as the coverage check reads them), never from a day of sales."""
    start = (now - timedelta(hours=hours - 1)).replace(minute=0, second=0, microsecond=0)
    if not support_installed():  # before Phase 2: no server_id, and no counts kept yet
        return [SeriesPoint(start + timedelta(hours=i), None, 0) for i in range(hours)]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT date_trunc('hour', minute) AS hour, sum(sales)::bigint, sum(with_server_id)::bigint
            FROM sales_minute_counts WHERE minute >= %s AND minute <= %s
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
    """One health run with who triggered it and its results (None when there is no such run)."""
    return HealthRun.objects.select_related("triggered_by").prefetch_related("results").filter(pk=run_id).first()


# --- For the apps above (DESIGN §2: the rollout reads monitoring's tables through these, never its models) --------


def latest_finished_run() -> HealthRun | None:
    """The health run that finished last (None before the first); read once per page (adminpanel.request_memo)."""
    return memoized(
        "latest_finished_run",
        lambda: HealthRun.objects.filter(finished_at__isnull=False).order_by("-finished_at").first(),
    )


def open_critical_alerts(limit: int | None = None) -> list[Alert]:
    """Unresolved critical alerts, newest first (`limit` of them when given); read once per page."""
    alerts = memoized(
        "open_critical_alerts",
        lambda: list(Alert.objects.filter(severity=CheckStatus.CRITICAL).exclude(state=Alert.State.RESOLVED)),
    )
    return alerts[:limit] if limit else list(alerts)


def tripped_safeguards() -> list[Alert]:
    """Unresolved critical alerts that count toward automatic action (their consecutive failing runs reached)."""
    return list(
        Alert.objects.filter(severity=CheckStatus.CRITICAL, safeguard_tripped_at__isnull=False)
        .exclude(state=Alert.State.RESOLVED)
        .select_related("last_result")
        .order_by("safeguard_tripped_at")
    )


def latest_window(kind: str, *, since: datetime | None = None) -> PhaseWindow | None:
    """The latest monitoring window of a kind (started at or after `since` when given)."""
    windows = PhaseWindow.objects.filter(kind=kind)
    if since is not None:
        windows = windows.filter(started_at__gte=since)
    return windows.order_by("-started_at", "-id").first()


def pending_window(kind: str) -> PhaseWindow | None:
    """The running window of a kind (at most one runs at a time)."""
    return PhaseWindow.objects.filter(kind=kind, verdict=PhaseWindow.Verdict.PENDING).first()


def latest_windows() -> dict[str, PhaseWindow]:
    """The latest window of each kind, in two queries. Picked first and joined to their starters after: a join
    inside the DISTINCT ON once made the planner hash every user (60,000 rows, 40 ms) for a table of three windows."""
    latest = PhaseWindow.objects.order_by("kind", "-started_at", "-id").distinct("kind").values_list("pk", flat=True)
    windows = PhaseWindow.objects.select_related("started_by").filter(pk__in=list(latest))
    return {window.kind: window for window in windows}


def run_statuses_between(start: datetime, end: datetime | None = None, *, limit: int | None = 500) -> list[str]:
    """The overall status of the health runs that finished in ``[start, end)`` (at most `limit`; None: the distinct
    statuses of them all)."""
    runs = HealthRun.objects.filter(finished_at__gte=start)
    if end is not None:
        runs = runs.filter(finished_at__lt=end)
    if limit is None:
        return list(runs.values_list("status", flat=True).distinct())
    return list(runs.values_list("status", flat=True)[:limit])


def runs_finished_between(start: datetime, end: datetime) -> int:
    """How many health runs finished in ``[start, end)``."""
    return HealthRun.objects.filter(finished_at__gte=start, finished_at__lt=end).count()


def results_between(start: datetime, end: datetime):
    """(check name, status, value) of every result of the runs that finished in ``[start, end)``, by check and time;
    an iterator, for windows of many runs."""
    runs = HealthRun.objects.filter(finished_at__gte=start, finished_at__lt=end)
    return (
        CheckResult.objects.filter(run__in=runs)
        .order_by("check_name", "run__finished_at")
        .values_list("check_name", "status", "value")
        .iterator(chunk_size=2000)
    )


def check_value_figures(check_name: str, *, start: datetime, end: datetime) -> dict:
    """The mean and the highest value a check reported in the runs that finished in ``[start, end)``."""
    return CheckResult.objects.filter(
        check_name=check_name, run__finished_at__gte=start, run__finished_at__lt=end, value__isnull=False
    ).aggregate(mean=Avg("value"), worst=Max("value"))
