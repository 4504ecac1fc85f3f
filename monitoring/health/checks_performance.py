"""The performance checks of DESIGN.md section 5: the runbook's queries can use their indexes (EXPLAIN, never
executed), and RLS-bound statements stay fast, as pg_stat_statements saw the clients run them since the previous
run and as probed now with a real server's and manager's JWT claims. Registered in
``monitoring.health.health_checks.CHECKS`` like the others."""

from datetime import datetime

from django.conf import settings
from django.db import OperationalError, connection

from adminpanel import runbook_sql
from adminpanel.sql_probe import explain_json, plan_nodes
from monitoring.health.check_base import (
    INSUFFICIENT,
    OK,
    UNKNOWN,
    WARNING,
    CheckOutcome,
    client_query,
    client_role_missing,
    threshold,
)
from monitoring.health.check_base import above as _above
from monitoring.health.check_base import fetchall as _fetchall
from monitoring.health.check_base import fetchone as _fetchone

# A server_id no real user has: the plan of the runbook's "RLS policy performance" query is read for it.
PLAN_PROBE_SERVER_ID = "00000000-0000-0000-0000-000000000000"
NOT_INSTALLED = "extension not installed"


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
