"""The health checks of DESIGN.md section 5: one plain function per check, thresholds from settings.

Each check takes ``now`` (keyword-only) and returns a :class:`CheckOutcome` — value, status, the threshold it was
judged against and a detail dict. :func:`run_check` runs one inside its own savepoint with a statement timeout and
turns any error into ``unknown`` with the error, so a failing check never stops the others.

Every query is bounded, whatever the size of the tables (issue 15, DESIGN.md section 8): sales counted over a window
(the 24-hour coverage, the 5-minute error rate) come from ``sales_minute_counts``, per-minute counts kept by
triggers on sales (an insert appends to ``sales_minute_rollup_log``, which each health run folds into
``sales_minute_rollup``: :func:`compact_sales_rollup`), plus the partial minutes at both ends counted from the rows
(:func:`sales_in_window`); the backfill log's counts come from ``migration_log_counts``, kept by triggers on the
log; the other windows of ``sales`` and ``audit_logs`` are range scans of their ``created_at`` indexes over the
window's rows only.
``tests/monitoring/test_checks_match_runbook.py`` holds every check against the runbook's SQL run raw.
"""

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import OperationalError, connection
from django.utils import timezone

from adminpanel import runbook_sql
from adminpanel.runbook_sql import POLICY_COMMANDS, RLS_TABLES
from adminpanel.sql_probe import explain_json, plan_nodes, time_limited_cursor
from monitoring import api_metrics, checks_runbook
from monitoring.check_base import (  # noqa: F401 (the suite's vocabulary, also read as health_checks.<name>)
    CRITICAL,
    INSUFFICIENT,
    NOT_CONFIGURED,
    OK,
    UNKNOWN,
    WARNING,
    Check,
    CheckOutcome,
    client_query,
    client_role_missing,
    jwt_claims,
    min_sample,
    not_configured,
    threshold,
    worst,
)
from monitoring.check_base import above as _above
from monitoring.check_base import counted as _counted
from monitoring.check_base import fetchall as _fetchall
from monitoring.check_base import fetchone as _fetchone
from monitoring.check_base import on_sample as _on_sample
from monitoring.check_base import pct as _pct
from monitoring.signals import expected_adoption_from_provider

# A server_id no real user has: the plan of the runbook's "RLS policy performance" query is read for it.
PLAN_PROBE_SERVER_ID = "00000000-0000-0000-0000-000000000000"
NOT_INSTALLED = "extension not installed"
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


# --- Sales in a time window, flat in the table's size ---------------------------------------------------------

MINUTE = timedelta(minutes=1)
# The rollup (adminpanel migration 0014) counts only writes to sales created within 48 hours of the writing
# transaction's start; a minute younger than this, measured on the database's clock, has missed no write.
ROLLUP_TRUSTED = timedelta(hours=47)

# The first whole minute of the window the rollup can vouch for: the window's own, or the trusted horizon's.
_LO = (
    "GREATEST(%(lo)s::timestamptz, date_bin(interval '1 minute', statement_timestamp() - %(trusted)s::interval, "
    "timestamptz '2000-01-01 00:00:00+00') + interval '1 minute')"
)
# Each part gives (sales, with server_id, counted, counted with server_id, counted as history). Counted (the coverage
# checks' sample, DESIGN §4d): the backfilled history, i.e. minutes before %(history)s (every sale), and after it
# the sales written while their bar's flags were on (the rollup's `flagged` columns; rows read directly are
# classed by the flags now, bar_flags_on in panel_support.sql).
_ROWS = """
  SELECT count(*), count(server_id), count(*) FILTER (WHERE c), count(server_id) FILTER (WHERE c),
         count(*) FILTER (WHERE created_at < %(history)s::timestamptz)
  FROM (SELECT server_id, created_at, (created_at < %(history)s::timestamptz OR bar_flags_on(bar_id)) AS c
        FROM sales WHERE {where}) AS edge
"""
SALES_IN_WINDOW = f"""
SELECT sum(n)::bigint, sum(s)::bigint, sum(cn)::bigint, sum(cs)::bigint, sum(hn)::bigint FROM (
  SELECT coalesce(sum(sales), 0) AS n, coalesce(sum(with_server_id), 0) AS s,
         coalesce(sum(CASE WHEN minute < %(history)s::timestamptz THEN sales ELSE flagged END), 0) AS cn,
         coalesce(sum(CASE WHEN minute < %(history)s::timestamptz THEN with_server_id
                           ELSE flagged_with_server_id END), 0) AS cs,
         coalesce(sum(sales) FILTER (WHERE minute < %(history)s::timestamptz), 0) AS hn
  FROM sales_minute_counts WHERE minute >= {_LO} AND minute < %(hi)s
  UNION ALL
  {_ROWS.format(where=f"created_at > %(since)s AND created_at < {_LO} AND created_at <= %(until)s")}
  UNION ALL
  {_ROWS.format(where=f"created_at >= GREATEST(%(hi)s, {_LO}) AND created_at <= %(until)s")}
) AS parts
"""  # noqa: S608 (constants)


@dataclass(frozen=True)
class WindowCounts:
    """Sales of a window: all of them, and those the coverage checks count (history + written with flags on)."""

    sales: int
    with_server_id: int
    counted: int
    counted_with_server_id: int
    history: int


def _minute_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def window_counts(since: datetime, until: datetime, *, history_before: datetime | None = None) -> WindowCounts:
    """The sales created in ``(since, until]``, in one statement (one snapshot, so the rollup and the rows agree): the
    whole minutes inside the window are summed from ``sales_minute_counts`` (kept by triggers on sales,
    panel_support.sql), the partial minutes at both ends are counted from ``sales``, so at most two minutes of rows
    are read whatever the window or the table's size. Minutes older than ``ROLLUP_TRUSTED`` on the database's clock,
    which the rollup cannot vouch for, are counted from ``sales``: the window ``(since, lo)`` then stretches up to
    ``until`` and ``[max(hi, lo), until]`` is empty or disjoint. ``history_before`` (a whole minute) starts what is
    not the backfilled history."""
    params = {
        "lo": _minute_floor(since) + MINUTE,
        "hi": _minute_floor(until),
        "since": since,
        "until": until,
        "trusted": ROLLUP_TRUSTED,
        "history": history_before or "-infinity",
    }
    return WindowCounts(*_fetchone(SALES_IN_WINDOW, params))


def sales_in_window(since: datetime, until: datetime) -> tuple[int, int]:
    """(sales, sales with a server_id) created in ``(since, until]`` (see :func:`window_counts`)."""
    counts = window_counts(since, until)
    return counts.sales, counts.with_server_id


# One statement: the log rows this snapshot sees leave the log and are added to the rollup's compaction slot (-1,
# never a writer's), so each is counted in exactly one of the two tables whatever runs beside it; a sale committed
# meanwhile stays in the log for the next run. Inserting tills never wait for it (they only append).
COMPACT_SALES_ROLLUP = """
WITH moved AS (DELETE FROM sales_minute_rollup_log RETURNING minute, sales, with_server_id, flagged,
                                                               flagged_with_server_id),
     folded AS (
       INSERT INTO sales_minute_rollup AS r (minute, slot, sales, with_server_id, flagged, flagged_with_server_id)
       SELECT minute, -1, sum(sales), sum(with_server_id), sum(flagged), sum(flagged_with_server_id)
       FROM moved GROUP BY minute
       ON CONFLICT (minute, slot) DO UPDATE
         SET sales = r.sales + excluded.sales, with_server_id = r.with_server_id + excluded.with_server_id,
             flagged = r.flagged + excluded.flagged,
             flagged_with_server_id = r.flagged_with_server_id + excluded.flagged_with_server_id
       RETURNING 1)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM folded)
"""


def compact_sales_rollup() -> int:
    """Fold the inserts' log (one row per sale, adminpanel migration 0016) into the per-minute rollup, so the
    checks read a few rows per minute; returns the log rows folded."""
    with connection.cursor() as cursor:
        cursor.execute(COMPACT_SALES_ROLLUP)
        return cursor.fetchone()[0]


def prune_sales_rollup() -> int:
    """Drop the rollup's minutes no check trusts any more (older than ``ROLLUP_TRUSTED``, on the database's clock);
    a late write may bring one back, which no check reads either. Returns the rows dropped. (The log is folded at
    the start of each health run, :func:`compact_sales_rollup`; its old minutes are dropped once folded.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM sales_minute_rollup WHERE minute < statement_timestamp() - %s::interval", [ROLLUP_TRUSTED]
        )
        return cursor.rowcount


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


def _explain(sql: str, params=None) -> list[dict]:
    with connection.cursor() as cursor:
        plan = explain_json(cursor, sql, params)
    return [
        {"node": node["Node Type"], "relation": node.get("Relation Name"), "index": node.get("Index Name")}
        for node in plan_nodes(plan)
    ]


PLANNED_QUERIES = {
    # Runbook validation 3 and health query 3; plans are read, never executed (no EXPLAIN ANALYZE).
    "operating_mode": (runbook_sql.VALIDATION_OPERATING_MODE_QUERY, None, "bars"),
    "server_id": (runbook_sql.HEALTH_SERVER_ID_INDEX, [PLAN_PROBE_SERVER_ID], "sales"),
}


def check_indexes_usable(*, now: datetime) -> CheckOutcome:
    """The operatingMode and server_id queries can use their indexes (EXPLAIN, JSON format).

    Warning when the index cannot serve the query even with sequential scans disabled, or when the planner
    chooses a sequential scan on a table large enough for it to matter."""
    min_rows = threshold("seqscan_min_rows")
    sizes = dict(
        _fetchall(
            "SELECT relname, GREATEST(reltuples, 0)::bigint FROM pg_class "
            "WHERE relname IN ('bars', 'sales') AND relnamespace = 'public'::regnamespace"
        )
    )
    problems, plans = [], {}
    for name, (sql, params, table) in PLANNED_QUERIES.items():
        chosen = _explain(sql, params)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
        forced = _explain(sql, params)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = on")
        plans[name] = {"chosen": chosen, "index_only": forced}
        if any(n["node"] == "Seq Scan" and n["relation"] == table for n in forced):
            problems.append(f"{name}: no usable index on {table}")
        elif sizes.get(table, 0) >= min_rows and any(
            n["node"] == "Seq Scan" and n["relation"] == table for n in chosen
        ):
            problems.append(f"{name}: sequential scan chosen on {table} ({sizes[table]} rows)")
    return CheckOutcome(
        name="indexes_usable",
        status=WARNING if problems else OK,
        value=len(problems),
        threshold=f"warning: sequential scan (unusable index, or chosen on a table of {min_rows:g}+ rows)",
        detail={"problems": problems, "plans": plans},
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


def pg_stat_statements_installed() -> bool:
    (installed,) = _fetchone("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements')")
    return installed


# Statements RLS policies weigh on: the runbook's operatingMode filter, and writes to the RLS tables.
RLS_BOUND_QUERY = """
(query LIKE '%%settings%%operatingMode%%'
 OR query ~* '^\\s*(insert\\s+into|update|delete\\s+from)\\s+"?(sales|consignments|returns)\\M')
AND query NOT LIKE '%%pg_stat_statements%%'
AND query !~* '^\\s*explain'
"""
# The figures without the texts: reading every statement's text (the whole texts file, thousands of entries) is
# what costs; a statement's text never changes for its queryid, so texts are read once per new statement.
RLS_STATEMENT_FIGURES_SQL = """
SELECT queryid, calls, mean_exec_time FROM pg_stat_statements(false)
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls >= %(min_calls)s
  AND queryid IS NOT NULL
"""
RLS_STATEMENT_TEXTS_SQL = f"""
SELECT DISTINCT ON (queryid) queryid, query, coalesce({RLS_BOUND_QUERY}, false)
FROM pg_stat_statements(true)
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND queryid = ANY (%(ids)s)
"""  # noqa: S608 (constants)
# (database, queryid) -> the statement's text when it is RLS-bound, else None; per process, bounded.
_statement_texts: dict[tuple[str, int], str | None] = {}
STATEMENT_TEXTS_KEPT = 50_000


def rls_statement_stats(*, limit: int = 10, min_calls: int = 1) -> list[dict]:
    """The slowest RLS-bound statements from pg_stat_statements (raises when the extension is missing)."""
    figures = _fetchall(RLS_STATEMENT_FIGURES_SQL, {"min_calls": min_calls})
    texts = _bound_texts([queryid for queryid, _, _ in figures])
    bound = [(texts[queryid], calls, mean) for queryid, calls, mean in figures if queryid in texts]
    bound.sort(key=lambda row: row[2], reverse=True)
    return [{"query": query, "calls": calls, "mean_ms": round(mean, 2)} for query, calls, mean in bound[:limit]]


# The clients' statements only (Supabase's clients run as `authenticated` / `anon`; the panel's own maintenance,
# the backfill and psql sessions run as other roles), summed per statement across those roles.
CLIENT_STATEMENT_FIGURES_SQL = """
SELECT queryid, sum(calls)::bigint, sum(total_exec_time) FROM pg_stat_statements(false)
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND queryid IS NOT NULL
  AND userid IN (SELECT oid FROM pg_roles WHERE rolname = ANY (%(roles)s))
GROUP BY queryid
"""
LATENCY_MIN_CALLS = 5


def _bound_texts(queryids) -> dict[int, str]:
    """The RLS-bound statements among `queryids`, with their texts (read once per statement, then kept)."""
    database = connection.settings_dict["NAME"]
    unknown = sorted({queryid for queryid in queryids if (database, queryid) not in _statement_texts})
    if unknown:
        if len(_statement_texts) + len(unknown) > STATEMENT_TEXTS_KEPT:
            _statement_texts.clear()
        for queryid, query, bound in _fetchall(RLS_STATEMENT_TEXTS_SQL, {"ids": unknown}):
            _statement_texts[(database, queryid)] = query if bound else None
    return {q: _statement_texts[(database, q)] for q in queryids if _statement_texts.get((database, q)) is not None}


def client_latency_window(previous: dict | None) -> tuple[list[dict] | None, dict]:
    """The clients' RLS-bound statements since the previous run: mean time per statement from the differences of
    their cumulative figures (a statistics reset counts from zero). Returns (None: no previous figures yet, the
    statements), and the figures to compare the next run with."""
    figures = _fetchall(CLIENT_STATEMENT_FIGURES_SQL, {"roles": list(settings.QUERY_LATENCY_CLIENT_ROLES)})
    texts = _bound_texts([queryid for queryid, _, _ in figures])
    snapshot = {str(q): [int(calls), float(total)] for q, calls, total in figures if q in texts}
    if previous is None:
        return None, snapshot
    window = []
    for queryid, (calls, total) in snapshot.items():
        before_calls, before_total = previous.get(queryid, [0, 0.0])
        new_calls, new_total = calls - before_calls, total - before_total
        if new_calls < 0 or new_total < 0:  # pg_stat_statements was reset since: everything counted is new
            new_calls, new_total = calls, total
        if new_calls >= LATENCY_MIN_CALLS:
            mean = round(new_total / new_calls, 2)
            window.append({"query": texts[int(queryid)], "calls": new_calls, "mean_ms": mean})
    window.sort(key=lambda row: row["mean_ms"], reverse=True)
    return window, snapshot


def _previous_latency_figures() -> dict | None:
    from monitoring.models import CheckResult

    results = CheckResult.objects.filter(check_name="query_latency").order_by("-run_id")
    detail = results.values_list("detail", flat=True).first()
    return (detail or {}).get("snapshot")


def check_query_latency(*, now: datetime) -> CheckOutcome:
    """Mean execution time of the slowest RLS-bound statement BarTender's clients ran since the previous run
    (runbook: RLS latency < 50 ms, P95 > 1 s critical). Only the clients' roles (QUERY_LATENCY_CLIENT_ROLES) count,
    and only what they ran in the window: the panel's own maintenance, or a slow hour long gone, never weighs on it.
    Needs pg_stat_statements (and the panel's role in pg_read_all_stats to read the clients' statements)."""
    warning, critical = threshold("query_latency_warning_ms"), threshold("query_latency_critical_ms")
    limits = f"critical > {critical:g} ms, warning > {warning:g} ms"
    if not pg_stat_statements_installed():
        return CheckOutcome(name="query_latency", status=UNKNOWN, threshold=limits, error=NOT_INSTALLED)
    window, snapshot = client_latency_window(_previous_latency_figures())
    roles = ", ".join(settings.QUERY_LATENCY_CLIENT_ROLES)
    detail = {"snapshot": snapshot, "roles": roles, "slowest": (window or [])[:5],
              "needed_text": f"{LATENCY_MIN_CALLS} calls of one client statement since the previous run"}  # fmt: skip
    if not window:
        detail["sample_text"] = (
            "first run: the next one measures from here" if window is None
            else f"no statement of the clients ({roles}) ran {LATENCY_MIN_CALLS}+ times since the previous run"
        )  # fmt: skip
        return CheckOutcome(name="query_latency", status=INSUFFICIENT, threshold=limits, detail=detail)
    slowest = window[0]["mean_ms"]
    detail["sample_text"] = f"{sum(row['calls'] for row in window):,} client statements since the previous run"
    return CheckOutcome(
        name="query_latency",
        status=_above(slowest, critical=critical, warning=warning),
        value=slowest,
        threshold=limits,
        detail=detail,
    )


RLS_PROBE_PEOPLE = {
    # A server with a recent sale, and an active owner/manager of a bar: who BarTender's clients are.
    "server": "SELECT server_id, bar_id FROM sales WHERE server_id IS NOT NULL ORDER BY created_at DESC LIMIT 1",
    "manager": "SELECT user_id, bar_id FROM bar_members WHERE is_active AND role IN ('owner', 'manager') LIMIT 1",
}


def _probe(cursor, *, role: str, user_id, bar_id, sql: str, timeout_ms: int) -> float:
    """One client query as Supabase's clients run it (:func:`client_query`); its ms (a statement cut by the timeout
    counts as the timeout)."""
    try:
        elapsed, _ = client_query(cursor, role=role, user_id=user_id, sql=sql, params={"user": user_id, "bar": bar_id},
                                  timeout_ms=timeout_ms)  # fmt: skip
    except OperationalError as exc:  # QueryCanceled: the statement timeout
        if getattr(exc.__cause__, "sqlstate", "") != "57014":
            raise
        elapsed = float(timeout_ms)
    return elapsed


def check_rls_client_latency(*, now: datetime) -> CheckOutcome:
    """BarTender's client queries (runbook_sql.RLS_CLIENT_QUERIES) run now as Supabase's ``authenticated`` role with
    a real server's and a real manager's JWT claims, under the RLS policies: the slowest against the runbook's 50 ms."""
    warning, critical = threshold("query_latency_warning_ms"), threshold("query_latency_critical_ms")
    limits = f"critical > {critical:g} ms, warning > {warning:g} ms"
    role = settings.RLS_PROBE_ROLE
    missing_role = client_role_missing(role)
    if missing_role:
        return CheckOutcome(name="rls_client_latency", status=UNKNOWN, threshold=limits, error=missing_role)
    people = {kind: _fetchone(sql) for kind, sql in RLS_PROBE_PEOPLE.items()}
    timings, skipped = {}, []
    with connection.cursor() as cursor:
        for kind, name, sql in runbook_sql.RLS_CLIENT_QUERIES:
            person = people.get(kind)
            if not person:
                skipped.append(name)
                continue
            timings[name] = _probe(
                cursor, role=role, user_id=person[0], bar_id=person[1], sql=sql,
                timeout_ms=settings.RLS_PROBE_TIMEOUT_MS,
            )  # fmt: skip
    slowest = max(timings.values(), default=0.0)
    return CheckOutcome(
        name="rls_client_latency",
        status=_above(slowest, critical=critical, warning=warning) if timings else OK,
        value=slowest,
        threshold=limits,
        detail={"role": role, "queries_ms": timings, "skipped_no_such_user": skipped},
    )


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
    Check("indexes_usable", "operatingMode and server_id indexes usable", check_indexes_usable),
    Check("adoption_rate", "Simplified-mode adoption", check_adoption_rate),
    Check("query_latency", "RLS query latency (pg_stat_statements)", check_query_latency),
    Check("rls_client_latency", "RLS latency of BarTender's client queries (probed)", check_rls_client_latency),
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
