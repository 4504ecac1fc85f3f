"""The health checks of DESIGN.md section 5: one plain function per check, thresholds from settings.

Each check takes ``now`` (keyword-only) and returns a :class:`CheckOutcome` — value, status, the threshold it was
judged against and a detail dict. :func:`run_check` runs one inside its own savepoint with a statement timeout and
turns any error into ``unknown`` with the error, so a failing check never stops the others.

Every query is bounded, whatever the size of the tables (issue 15, DESIGN.md section 8): sales counted over a window
come from the per-minute rollup (``monitoring.health.sales_window``); the backfill log's counts from
``migration_log_counts``, kept by triggers on the log; the other windows of ``sales`` and ``audit_logs`` are range
scans of their ``created_at`` indexes. The index and latency checks are in ``checks_performance``, the runbook's
Day 1 checks in ``checks_runbook``, the API's in ``api_metrics``: :data:`CHECKS` lists them all.
``tests/monitoring/test_checks_match_runbook.py`` holds every check against the runbook's SQL run raw.
"""

import time
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from adminpanel import runbook_sql
from adminpanel.runbook_sql import POLICY_COMMANDS, RLS_TABLES
from adminpanel.sql_probe import time_limited_cursor
from monitoring.health import api_metrics, checks_performance, checks_runbook
from monitoring.health.check_base import (  # noqa: F401 (the suite's vocabulary, also read as health_checks.<name>)
    CRITICAL,
    INSUFFICIENT,
    NOT_CONFIGURED,
    OK,
    UNKNOWN,
    WARNING,
    Check,
    CheckOutcome,
    jwt_claims,
    min_sample,
    not_configured,
    threshold,
    worst,
)
from monitoring.health.check_base import above as _above
from monitoring.health.check_base import counted as _counted
from monitoring.health.check_base import fetchall as _fetchall
from monitoring.health.check_base import fetchone as _fetchone
from monitoring.health.check_base import on_sample as _on_sample
from monitoring.health.check_base import pct as _pct
from monitoring.health.sales_window import sales_in_window, window_counts
from monitoring.signals import expected_adoption_from_provider

# "server_id errors", the one definition the check, the dashboard and the audit-log chart count: error-level
# audit logs whose message names the field, spelled as the database does (server_id, runbook 4.2 "Error
# Tracking") or as the app does (serverId, the runbook's alert "Error logs contain serverId").
SERVER_ID_ERRORS = "level = 'error' AND error_message ~* 'server_?id'"
SERVER_ID_ERRORS_COUNT = (
    f"SELECT count(*) FROM audit_logs WHERE created_at > %s AND created_at <= %s AND {SERVER_ID_ERRORS}"  # noqa: E501, S608
)


# The sale's bar is in simplified mode, looked up by primary key per sale of the window: bounded by the window's
# sales, where a join would read every bar's settings (10k at DESIGN.md section 8's size) in each run.
SALE_IN_SIMPLIFIED_BAR = "(SELECT b.settings->>'operatingMode' FROM bars b WHERE b.id = s.bar_id) = 'simplified'"


# --- The checks, in the order of DESIGN.md section 5 ---------------------------------------------------------


def check_resolution_error_rate(*, now: datetime) -> CheckOutcome:
    """server_id resolution error rate over the last 5 minutes: refusals written by the resolution API
    (``audit_logs.error_type = 'server_id_resolution'``) per attempt, an attempt being a refusal or a sale created
    in a simplified-mode bar (a sale there exists only once its server name resolved)."""
    since = now - timedelta(minutes=5)
    failures, resolved = _fetchone(
        f"""
        SELECT (SELECT count(*) FROM audit_logs
                WHERE error_type = 'server_id_resolution' AND created_at > %(since)s AND created_at <= %(now)s),
               (SELECT count(*) FROM sales s
                WHERE s.created_at > %(since)s AND s.created_at <= %(now)s AND {SALE_IN_SIMPLIFIED_BAR})
        """,  # noqa: S608 (constants)
        {"since": since, "now": now},
    )
    limit = threshold("resolution_error_rate_critical_pct")
    rate = _pct(failures, failures + resolved) or 0.0
    outcome = CheckOutcome(
        name="resolution_error_rate",
        status=_above(rate, critical=limit),
        value=rate,
        threshold=f"critical > {limit:g} %",
        detail={"failures": failures, "resolved_sales": resolved, "window_minutes": 5},
    )
    attempts = failures + resolved
    return _on_sample(
        outcome, sample=attempts, sample_text=_counted(attempts, "resolution attempt"), unit="resolution attempts"
    )


def check_rls_violations(*, now: datetime) -> CheckOutcome:
    """RLS policy violations reported by the app (``audit_logs.error_type = 'rls_violation'``) in the window."""
    minutes = settings.HEALTH_RLS_WINDOW_MINUTES
    (count,) = _fetchone(
        "SELECT count(*) FROM audit_logs WHERE error_type = 'rls_violation' AND created_at > %s AND created_at <= %s",
        [now - timedelta(minutes=minutes), now],
    )
    limit = threshold("rls_violations_critical")
    # The runbook's "10+ RLS policy violations": ten is already critical.
    return CheckOutcome(
        name="rls_violations",
        status=CRITICAL if count >= limit else OK,
        value=count,
        threshold=f"critical ≥ {limit:g}",
        detail={"window_minutes": minutes},
    )


def check_orphaned_sales(*, now: datetime) -> CheckOutcome:
    """Sales of the last hour without server_id in simplified-mode bars (the runbook's RCA query 3)."""
    (count,) = _fetchone(
        f"""
        SELECT count(*) FROM sales s
        WHERE s.created_at > %s AND s.created_at <= %s AND s.server_id IS NULL AND {SALE_IN_SIMPLIFIED_BAR}
        """,  # noqa: S608 (constants)
        [now - timedelta(hours=1), now],
    )
    limit = threshold("orphaned_sales_critical")
    return CheckOutcome(
        name="orphaned_sales",
        status=_above(count, critical=limit),
        value=count,
        threshold=f"critical > {limit:g}",
        detail={"window_minutes": 60},
    )


def check_orphaned_fks(*, now: datetime) -> CheckOutcome:
    """server_id values that are not a user, on sales, consignments and returns (runbook validation 2).

    Where a validated foreign key guards the column, PostgreSQL itself guarantees there is none, so the catalog
    answers; a table without one is searched with an anti-join (the runbook's NOT IN, written to use indexes).
    """
    guarded = dict(
        _fetchall(
            """
            SELECT c.conrelid::regclass::text, c.conname FROM pg_constraint c
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
            WHERE c.contype = 'f' AND c.convalidated AND c.confrelid = 'auth.users'::regclass
              AND a.attname = 'server_id' AND c.conrelid::regclass::text = ANY (%s)
            """,
            [list(RLS_TABLES)],
        )
    )
    per_table = {}
    for table in RLS_TABLES:
        if table in guarded:
            per_table[table] = {"orphans": 0, "guaranteed_by": guarded[table]}
            continue
        (count,) = _fetchone(
            f"SELECT count(*) FROM {table} t WHERE t.server_id IS NOT NULL "  # noqa: S608 (fixed table names)
            "AND NOT EXISTS (SELECT 1 FROM auth.users u WHERE u.id = t.server_id)"
        )
        per_table[table] = {"orphans": count, "guaranteed_by": None}
    total = sum(row["orphans"] for row in per_table.values())
    limit = threshold("orphaned_fks_critical")
    return CheckOutcome(
        name="orphaned_fks",
        status=_above(total, critical=limit),
        value=total,
        threshold=f"critical > {limit:g}",
        detail={"tables": per_table},
    )


def check_db_connections(*, now: datetime) -> CheckOutcome:
    """Connections in use as a share of ``max_connections``."""
    used, maximum = _fetchone(
        "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'), "
        "current_setting('max_connections')::int"
    )
    pct = _pct(used, maximum) or 0.0
    limit = threshold("db_connections_critical_pct")
    return CheckOutcome(
        name="db_connections",
        status=_above(pct, critical=limit),
        value=pct,
        threshold=f"critical > {limit:g} %",
        detail={"used": used, "max_connections": maximum},
    )


def check_server_id_coverage(*, now: datetime) -> CheckOutcome:
    """Share of the last 24 hours' sales that carry a server_id (runbook health query 2), counting only what the
    flags switched on (DESIGN §4d): sales written while their bar's flags were on, plus the backfilled history (sales
    before the last full backfill began). With the flags off, sales are made without server_id by design and are not
    counted, so a Phase 3 with the flags off never raises it. From the per-minute rollup (:func:`window_counts`)."""
    before = checks_runbook.history_before()
    counts = window_counts(now - timedelta(hours=24), now, history_before=before)
    critical, warning = threshold("coverage_critical_pct"), threshold("coverage_warning_pct")
    coverage = _pct(counts.counted_with_server_id, counts.counted)
    if coverage is None:
        status = OK
    elif coverage < critical:
        status = CRITICAL
    elif coverage < warning:
        status = WARNING
    else:
        status = OK
    outcome = CheckOutcome(
        name="server_id_coverage",
        status=status,
        value=coverage,
        threshold=f"critical < {critical:g} %, warning < {warning:g} %",
        detail={
            "sales": counts.counted,
            "with_server_id": counts.counted_with_server_id,
            "flags_on_sales": counts.counted - counts.history,
            "history_sales": counts.history,
            "all_sales": counts.sales,
            "all_with_server_id": counts.with_server_id,
            "counted": checks_runbook.COUNTED_WORDS.replace("rows", "sales"),
            "history_before": before.isoformat() if before else "no finished backfill yet",
            "window_hours": 24,
        },
    )
    text = _counted(counts.counted, "sale")
    if counts.counted != counts.sales:
        text = f"{text} counted of {_counted(counts.sales, 'sale')}"
    if not counts.counted:
        text += (" (no bar has its flags on and no backfilled history in the window: with the flags off, sales carry"
                 " no server_id by design)")  # fmt: skip
    return _on_sample(outcome, sample=counts.counted, sample_text=text, unit="sales")


def check_fallback_mappings(*, now: datetime) -> CheckOutcome:
    """Share of backfilled rows that needed a fallback (``migration_server_id_log.fallback_used``), and how many
    fallbacks say they failed (runbook validation 4), from the log's counts kept by its triggers."""
    # Kept by triggers on the log (adminpanel migration 0015): four rows, whatever the log's size.
    total, fallbacks, failed = _fetchone(
        "SELECT coalesce(sum(logged), 0)::bigint, coalesce(sum(fallbacks), 0)::bigint, "
        "coalesce(sum(failed), 0)::bigint FROM migration_log_counts"
    )
    pct = _pct(fallbacks, total) or 0.0
    limit = threshold("fallback_warning_pct")
    outcome = CheckOutcome(
        name="fallback_mappings",
        status=_above(pct, warning=limit),
        value=pct,
        threshold=f"warning > {limit:g} %",
        detail={"logged": total, "fallbacks": fallbacks, "failed": failed},
    )
    return _on_sample(outcome, sample=total, sample_text=_counted(total, "backfilled sale"), unit="backfilled sales")


def check_serverid_errors(*, now: datetime) -> CheckOutcome:
    """Error-level audit logs of the last hour whose message mentions serverId / server_id."""
    (count,) = _fetchone(
        SERVER_ID_ERRORS_COUNT,
        [now - timedelta(hours=1), now],
    )
    limit = threshold("serverid_errors_warning")
    return CheckOutcome(
        name="serverid_errors",
        status=_above(count, warning=limit),
        value=count,
        threshold=f"warning > {limit:g}",
        detail={"window_minutes": 60},
    )


def check_error_logs(*, now: datetime) -> CheckOutcome:
    """Error-level audit logs of the last 5 minutes (runbook health query 4); the error rate is errors per
    operation, an operation being a sale created or an error logged in the window."""
    (errors,) = _fetchone(
        """
        SELECT count(*) FROM audit_logs WHERE level = 'error' AND created_at > %(since)s AND created_at <= %(now)s
        """,
        {"since": now - timedelta(minutes=5), "now": now},
    )
    sales, _ = sales_in_window(now - timedelta(minutes=5), now)
    rate = _pct(errors, errors + sales) or 0.0
    critical, warning = threshold("error_rate_critical_pct"), threshold("error_logs_warning")
    if rate > critical:
        status = CRITICAL
    elif errors > warning:
        status = WARNING
    else:
        status = OK
    outcome = CheckOutcome(
        name="error_logs",
        status=status,
        value=errors,
        threshold=f"critical: error rate > {critical:g} %, warning > {warning:g} errors",
        detail={"errors": errors, "sales": sales, "error_rate_pct": rate, "window_minutes": 5},
    )
    outcome = _on_sample(
        outcome,
        sample=errors + sales,
        sample_text=f"{_counted(sales, 'sale')}, {_counted(errors, 'error')}",
        unit="sales and errors",
    )
    if outcome.status == INSUFFICIENT:
        outcome.detail["error_rate_pct"] = None  # a rate over 4 operations is not a figure for the record
    return outcome


def check_rls_policies(*, now: datetime) -> CheckOutcome:
    """RLS enabled, and select/insert/update/delete policies present, on sales, consignments and returns."""
    enabled = dict(_fetchall(runbook_sql.SECURITY_RLS_ENABLED))
    commands: dict[str, set[str]] = {table: set() for table in RLS_TABLES}
    for table, command in _fetchall(
        "SELECT tablename, cmd FROM pg_policies WHERE schemaname = 'public' AND tablename = ANY (%s)",
        [list(RLS_TABLES)],
    ):
        commands[table] |= set(POLICY_COMMANDS) if command == "ALL" else {command}
    problems = []
    for table in RLS_TABLES:
        if not enabled.get(table):
            problems.append(f"{table}: row level security disabled")
        missing = [c for c in POLICY_COMMANDS if c not in commands[table]]
        if missing:
            problems.append(f"{table}: no {'/'.join(missing).lower()} policy")
    return CheckOutcome(
        name="rls_policies",
        status=CRITICAL if problems else OK,
        value=len(problems),
        threshold="critical: RLS off or a policy missing",
        detail={"problems": problems, "policies": {t: sorted(c) for t, c in commands.items()}},
    )


def expected_adoption_pct() -> float:
    """The simplified-mode share the current rollout stage expects: the setting when given, else the rollout's
    own answer (registered with ``monitoring.signals.provide_expected_adoption``) when there is one, else 0."""
    if settings.HEALTH_ADOPTION_EXPECTED_PCT is not None:
        return float(settings.HEALTH_ADOPTION_EXPECTED_PCT)
    return expected_adoption_from_provider()


def check_adoption_rate(*, now: datetime) -> CheckOutcome:
    """Share of bars in simplified mode (runbook health query 1) against the stage's expected share."""
    total, simplified = _fetchone(
        "SELECT count(*), count(*) FILTER (WHERE settings->>'operatingMode' = 'simplified') FROM bars"
    )
    rate = _pct(simplified, total) or 0.0
    expected = expected_adoption_pct()
    outcome = CheckOutcome(
        name="adoption_rate",
        status=WARNING if rate < expected else OK,
        value=rate,
        threshold=f"warning < {expected:g} % (expected for the stage)",
        detail={"bars": total, "simplified": simplified},
    )
    return _on_sample(outcome, sample=total, sample_text=_counted(total, "bar"), unit="bars")


CHECKS: tuple[Check, ...] = (
    Check("resolution_error_rate", "server_id resolution error rate (5 min)", check_resolution_error_rate),
    Check("rls_violations", "RLS policy violations", check_rls_violations),
    Check("orphaned_sales", "Orphaned sales in simplified-mode bars (1 h)", check_orphaned_sales),
    Check("orphaned_fks", "Orphaned server_id foreign keys", check_orphaned_fks),
    Check("db_connections", "Database connections used", check_db_connections),
    Check("server_id_coverage", "server_id coverage (24 h)", check_server_id_coverage),
    Check("fallback_mappings", "Fallback mappings used (backfill log)", check_fallback_mappings),
    Check("serverid_errors", "Errors mentioning serverId (1 h)", check_serverid_errors),
    Check("error_logs", "Error-level audit logs (5 min)", check_error_logs),
    Check("rls_policies", "RLS enabled and policies present", check_rls_policies),
    Check("indexes_usable", "operatingMode and server_id indexes usable", checks_performance.check_indexes_usable),
    Check("adoption_rate", "Simplified-mode adoption", check_adoption_rate),
    Check("query_latency", "RLS query latency (pg_stat_statements)", checks_performance.check_query_latency),
    Check("rls_client_latency", "RLS latency of BarTender's client queries (probed)",
          checks_performance.check_rls_client_latency),
    Check("api_error_rate", "API error rate (Prometheus)", api_metrics.check_api_error_rate),
    Check("api_p95_latency", "API P95 latency (Prometheus)", api_metrics.check_api_p95_latency),
    Check("rls_enforcement", "RLS enforcement as sampled users see it (Day 1)", checks_runbook.check_rls_enforcement),
    Check("consignment_return_coverage", "Consignments and returns with server_id",
          checks_runbook.check_consignment_return_coverage),
    Check("sales_bar_id", "All sales have bar_id", checks_runbook.check_sales_bar_id),
    Check("migration_failures", "Failed fallbacks in the backfill log", checks_runbook.check_migration_failures),
)  # fmt: skip
CHECKS_BY_NAME = {check.name: check for check in CHECKS}


def run_check(check: Check, *, now: datetime | None = None) -> CheckOutcome:
    """Run one check in its own savepoint with a statement timeout; any error becomes ``unknown``."""
    now = now or timezone.now()
    started = time.perf_counter()
    try:
        with time_limited_cursor(settings.HEALTH_CHECK_STATEMENT_TIMEOUT_MS) as cursor:
            # No JIT for the checks: they read windows of thousands of rows, where compiling costs more than it
            # saves, and it starts as soon as an estimate crosses jit_above_cost (orphaned sales at 20M sales:
            # 42 ms with JIT, 8 ms without). Local to the check's savepoint.
            cursor.execute("SELECT set_config('jit', 'off', true)")
            outcome = check.func(now=now)
    except Exception as exc:  # noqa: BLE001 (a broken check is reported, and never stops the others)
        outcome = CheckOutcome(name=check.name, status=UNKNOWN, error=f"{type(exc).__name__}: {exc}".strip())
    outcome.duration_ms = round((time.perf_counter() - started) * 1000)
    return outcome


def run_checks(*, names=None, now: datetime | None = None) -> list[CheckOutcome]:
    """Run the named checks (all by default) and return their outcomes, in the suite's order."""
    now = now or timezone.now()
    selected = [c for c in CHECKS if names is None or c.name in names]
    return [run_check(check, now=now) for check in selected]
