"""Health runs and phase windows: the services behind the Celery task, the command and the panel.

A run takes a PostgreSQL advisory lock (so it works from ``manage.py healthcheck`` and with Redis down, and a
killed worker's lock dies with its database session), runs every check of
:mod:`monitoring.health.health_checks`, stores the run
and its results, moves the alerts, and then delivers the pending notifications outside the transaction.
"""

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from adminpanel import db_sessions
from adminpanel.audit import record_event
from monitoring.health import health_checks, sales_window
from monitoring.health.alerts import deliver_pending_notifications, update_alerts
from monitoring.models import Alert, CheckResult, CheckStatus, HealthRun, PhaseWindow
from monitoring.signals import critical_alert_handler

logger = logging.getLogger(__name__)

# pg_try_advisory_lock key: "health" in ASCII, so it never meets another feature's lock by chance.
RUN_LOCK_KEY = 0x6865616C7468
class PhaseWindowAlreadyRunning(Exception):
    """A window of that kind is already running."""


class UnknownPhaseWindow(Exception):
    """No such phase window kind."""


# --- Runs ----------------------------------------------------------------------------------------------------


def _try_lock() -> bool:
    return db_sessions.try_lock(RUN_LOCK_KEY)


def _unlock() -> None:
    db_sessions.unlock(RUN_LOCK_KEY)


def run_health_checks(*, trigger: str = HealthRun.Trigger.SCHEDULE, triggered_by=None, task_id: str | None = None):
    """Run the whole suite once, store it, move the alerts and notify; ``None`` when another run holds the lock
    or this task id already ran (a redelivered task)."""
    if task_id and HealthRun.objects.filter(task_id=task_id).exists():
        return None
    if not _try_lock():
        logger.info("health run skipped: another run is in progress")
        return None
    try:
        _compact_sales_rollup()
        run = _run_locked(trigger=trigger, triggered_by=triggered_by, task_id=task_id)
    finally:
        _unlock()
    deliver_pending_notifications()
    close_due_phase_windows()
    sales_window.prune_sales_rollup()
    return run


def _compact_sales_rollup() -> None:
    """Fold the sales inserts' log into the rollup before the checks read it (they are right without it, only
    slower); a failure is logged and never stops the run."""
    try:
        with transaction.atomic():
            sales_window.compact_sales_rollup()
    except DatabaseError:
        logger.warning("sales rollup not compacted before the health run", exc_info=True)


def _previous_results() -> dict[str, CheckResult]:
    """The results of the latest finished run, by check: where each check's streak of failing runs stands."""
    previous = HealthRun.objects.filter(finished_at__isnull=False).order_by("-finished_at", "-id").first()
    return {r.check_name: r for r in previous.results.all()} if previous else {}


def streaks(*, status: str, previous: CheckResult | None) -> tuple[int, int]:
    """(failing runs in a row, critical runs in a row) ending with a run whose result is ``status``.

    Unknown (the check could not run) carries the previous counts: it neither confirms nor clears a failure.
    Ok and "not enough data" clear them: the next failure starts again from one.
    """
    failing, critical = (previous.failing_streak, previous.critical_streak) if previous else (0, 0)
    if status == CheckStatus.UNKNOWN:
        return failing, critical
    if status == CheckStatus.CRITICAL:
        return failing + 1, critical + 1
    if status == CheckStatus.WARNING:
        return failing + 1, 0
    return 0, 0


def _streak_fields(*, status: str, previous: CheckResult | None) -> dict:
    failing, critical = streaks(status=status, previous=previous)
    return {"failing_streak": failing, "critical_streak": critical}


def _run_locked(*, trigger, triggered_by, task_id) -> HealthRun:
    started = time.perf_counter()
    now = timezone.now()
    outcomes = health_checks.run_checks(now=now)
    with transaction.atomic():
        previous = _previous_results()
        run = HealthRun.objects.create(
            started_at=now,
            finished_at=timezone.now(),
            trigger=trigger,
            triggered_by=triggered_by,
            task_id=task_id,
            # A check not configured here (no PROMETHEUS_URL) judges nothing: it holds a window, not the run's status.
            status=health_checks.worst(o.status for o in outcomes if not health_checks.not_configured(o)),
            duration_ms=round((time.perf_counter() - started) * 1000),
        )
        results = CheckResult.objects.bulk_create(
            CheckResult(
                run=run,
                check_name=o.name,
                status=o.status,
                value=o.value,
                threshold=o.threshold[:200],
                detail=o.detail,
                error=o.error,
                duration_ms=o.duration_ms,
                **_streak_fields(status=o.status, previous=previous.get(o.name)),
            )
            for o in outcomes
        )
        tripped = update_alerts(results=results)
    for alert in tripped:
        announce_critical(alert)
    return run


def announce_critical(alert: Alert) -> None:
    """Hand a critical alert whose safeguard tripped to the handler the rollout registered (its automatic
    protection: ``rollout.killswitch.critical_alerts.handle_critical_alert``); a failure there is logged and never
    undoes the stored alert."""
    handler = critical_alert_handler()
    if handler is None:
        return
    try:
        handler(alert=alert)
    except Exception:
        logger.exception("The critical-alert handler %r failed for alert %s", handler, alert.pk)


# --- Phase windows -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PhaseSpec:
    kind: str
    duration: timedelta
    checks: tuple[str, ...]
    fail_at: str  # the status that fails a check without a target of its own
    what: str
    # The runbook's "should remain" numbers for a check (check -> (result) -> why it misses them, or ""): the
    # verdict uses these instead of the alert thresholds.
    targets: dict = field(default_factory=dict)


def _below(limit: float, unit: str):
    return lambda r: "" if r.value < limit else f"{r.value:g} {unit} (target < {limit:g} {unit})"


def _none_of(what: str):
    return lambda r: "" if r.value == 0 else f"{r.value:g} {what} (target 0)"


def _no_failures(result) -> str:
    failures = (result.detail or {}).get("failures")
    return "" if failures == 0 else f"{failures} refused resolutions (target 0)"


def _stable_pool(result) -> str:
    return "" if result.status == CheckStatus.OK else f"pool at {result.value:g} % ({result.status})"


PHASES = {
    PhaseWindow.Kind.PHASE3: PhaseSpec(
        PhaseWindow.Kind.PHASE3,
        timedelta(minutes=15),
        ("api_error_rate", "api_p95_latency", "rls_violations", "resolution_error_rate", "db_connections"),
        CheckStatus.CRITICAL,
        "Monitor for 15 minutes after deployment: error rate < 0.1 %, API P95 < 500 ms, no RLS violation, no "
        "resolution error, a stable connection pool (the runbook's \"should remain\").",
        targets={
            "api_error_rate": _below(0.1, "%"),
            "api_p95_latency": _below(500, "ms"),
            "rls_violations": _none_of("RLS violations"),
            "resolution_error_rate": _no_failures,  # counted: a window with no attempt has no error
            "db_connections": _stable_pool,
        },
    ),
    PhaseWindow.Kind.DAY1: PhaseSpec(
        PhaseWindow.Kind.DAY1,
        timedelta(days=1),
        ("server_id_coverage", "orphaned_fks", "orphaned_sales", "rls_policies", "rls_enforcement", "adoption_rate"),
        CheckStatus.WARNING,
        "Day 1 after full rollout: coverage >= 98 %, no orphans, RLS enforced (policies present, and sampled servers "
        "and managers see only what they should), adoption on track.",
    ),
    PhaseWindow.Kind.WEEK1: PhaseSpec(
        PhaseWindow.Kind.WEEK1,
        timedelta(days=7),
        ("error_logs", "server_id_coverage", "rls_violations", "rls_policies", "query_latency"),
        CheckStatus.WARNING,
        "Week 1: no critical errors, coverage >= 98 % daily, no RLS incident, RLS latency < 50 ms.",
    ),
}


def start_phase_window(*, kind: str, user) -> PhaseWindow:
    """Start a monitoring window of the given kind; one of each kind runs at a time. Audited."""
    spec = PHASES.get(kind)
    if spec is None:
        raise UnknownPhaseWindow(f"Unknown phase window {kind!r}.")
    now = timezone.now()
    try:
        with transaction.atomic():
            window = PhaseWindow.objects.create(
                kind=kind,
                started_by=user,
                started_at=now,
                ends_at=now + spec.duration,
                summary={"checks": list(spec.checks), "fail_at": spec.fail_at},
            )
            record_event(
                actor=user,
                action="phase_window.start",
                target=window,
                after={"kind": kind, "ends_at": window.ends_at.isoformat()},
            )
    except IntegrityError as exc:
        raise PhaseWindowAlreadyRunning(f"A {window_label(kind)} window is already running.") from exc
    return window


def window_label(kind: str) -> str:
    """A phase window kind in words."""
    return PhaseWindow.Kind(kind).label


def _missing(result) -> str:
    """Why a result judges nothing (inconclusive), or "" when it does."""
    if result.status == CheckStatus.UNKNOWN:
        return f"unknown: {result.error or 'no reason given'}"
    if result.status == CheckStatus.INSUFFICIENT:
        return f"not enough data ({(result.detail or {}).get('sample_text') or 'too small a sample'})"
    return ""


def _judge(spec: PhaseSpec, name: str, result) -> tuple[str, str]:
    """("fail" | "missing" | "pass", why) for one result of one check of the window."""
    target = spec.targets.get(name)
    if target is _no_failures and (result.detail or {}).get("failures") is not None:
        why = target(result)  # a count of failures judges even a small sample
        return ("fail", why) if why else ("pass", "")
    missing = _missing(result)
    if missing:
        return "missing", missing
    if target is not None:
        why = target(result)
        return ("fail", why) if why else ("pass", "")
    if CheckStatus.rank(result.status) >= CheckStatus.rank(spec.fail_at):
        return "fail", f"{result.status}"
    return "pass", ""


def phase_verdict(*, window: PhaseWindow) -> tuple[str, dict]:
    """Judge a window from the results of the runs that finished inside it (DESIGN §4d): failed when a result of
    one of its checks misses the runbook's target (Phase 3) or reaches the phase's failing status; inconclusive
    when no run finished in it, or a check judged nothing (unknown, not enough data, not configured, no result):
    inconclusive holds and names what is missing; passed otherwise."""
    spec = PHASES[window.kind]
    results = CheckResult.objects.filter(
        run__finished_at__gte=window.started_at, run__finished_at__lte=window.ends_at, check_name__in=spec.checks,
    ).only("check_name", "status", "value", "detail", "error")
    seen: dict[str, list[str]] = {name: [] for name in spec.checks}
    failed: dict[str, str] = {}
    missing: dict[str, str] = {}
    for result in results:
        seen[result.check_name].append(result.status)
        outcome, why = _judge(spec, result.check_name, result)
        if outcome == "fail":
            failed.setdefault(result.check_name, why)
        elif outcome == "missing":
            missing.setdefault(result.check_name, why)
    for name, statuses in seen.items():
        if not statuses:
            missing.setdefault(name, "no result in the window")
    runs = HealthRun.objects.filter(finished_at__gte=window.started_at, finished_at__lte=window.ends_at).count()
    per_check = {name: health_checks.worst(statuses) if statuses else None for name, statuses in seen.items()}
    summary = {"checks": list(spec.checks), "fail_at": spec.fail_at, "runs": runs, "worst": per_check,
               "failed": failed, "missing": missing}  # fmt: skip
    if failed:
        return PhaseWindow.Verdict.FAILED, summary
    if runs == 0 or missing:
        return PhaseWindow.Verdict.INCONCLUSIVE, summary
    return PhaseWindow.Verdict.PASSED, summary


def close_due_phase_windows(*, now: datetime | None = None) -> list[PhaseWindow]:
    """Store the verdict of every running window whose time is up."""
    now = now or timezone.now()
    closed = []
    with transaction.atomic():
        for window in PhaseWindow.objects.select_for_update(skip_locked=True).filter(
            verdict=PhaseWindow.Verdict.PENDING, ends_at__lte=now
        ):
            window.verdict, window.summary = phase_verdict(window=window)
            window.verdict_at = now
            window.save(update_fields=["verdict", "summary", "verdict_at"])
            record_event(actor=None, action="phase_window.verdict", target=window, after={"verdict": window.verdict})
            closed.append(window)
    return closed
