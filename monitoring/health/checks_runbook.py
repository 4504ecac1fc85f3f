"""Health checks for runbook items beyond DESIGN.md section 5's table (issue 21), registered in
``monitoring.health.health_checks.CHECKS`` like the others:

- ``rls_enforcement`` (Day 1 "Check RLS enforcement"): sampled servers and managers run as BarTender's clients do,
  and what each sees is compared with what they should see;
- ``consignment_return_coverage``: consignments and returns keep a server_id coverage check after the backfill;
- ``sales_bar_id`` (data validation "All sales have bar_id"): rows RLS cannot scope to a bar;
- ``migration_failures`` (warning alert "migration_server_id_log shows many failures"): fallbacks that failed.

Every query is bounded at 5M rows: the RLS probes read the sampled people's bars through the (bar_id, created_at)
indexes over a window, consignments and returns are counted from per-day counts kept by triggers
(``server_id_day_counts``), the backfill log from ``migration_log_counts``, and bar_id from the catalog when a NOT NULL
constraint guarantees it.
"""

import random
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection

from adminpanel.runbook_sql import RLS_TABLES
from backfill.selectors import last_finished_full_backfill
from monitoring.health.check_base import (
    CRITICAL,
    INSUFFICIENT,
    OK,
    UNKNOWN,
    WARNING,
    CheckOutcome,
    above,
    client_query,
    client_role_missing,
    counted,
    fetchall,
    fetchone,
    on_sample,
    pct,
    threshold,
)

# --- History: what the backfill covered ------------------------------------------------------------------------


def history_before() -> datetime | None:
    """The minute (UTC) before which rows are the backfilled history: the start of the last finished backfill over
    every bar, floored to its minute (rows of that minute may be newer than the backfill); None before any."""
    run = last_finished_full_backfill()
    if run is None:
        return None
    return run.started_at.astimezone(UTC).replace(second=0, microsecond=0)


# --- Day 1: RLS enforcement, as the users see it ----------------------------------------------------------------

RECENT_SALES = 500
CANDIDATES = 50
# Servers (active members with the role server and no owner/manager role anywhere) with a recent sale of theirs.
SAMPLE_SERVERS = f"""
SELECT DISTINCT r.server_id FROM (SELECT server_id, bar_id FROM sales WHERE server_id IS NOT NULL
                                  ORDER BY created_at DESC LIMIT {RECENT_SALES}) AS r
WHERE EXISTS (SELECT 1 FROM bar_members m WHERE m.user_id = r.server_id AND m.bar_id = r.bar_id AND m.is_active
              AND m.role = 'server')
  AND NOT EXISTS (SELECT 1 FROM bar_members m WHERE m.user_id = r.server_id AND m.is_active
                  AND m.role IN ('owner', 'manager'))
LIMIT {CANDIDATES}
"""  # noqa: S608 (constants)
# Owners and managers (of no bar as a mere server) of a bar with a recent sale.
SAMPLE_MANAGERS = f"""
SELECT DISTINCT m.user_id FROM (SELECT DISTINCT bar_id FROM (SELECT bar_id FROM sales ORDER BY created_at DESC
                                                             LIMIT {RECENT_SALES}) AS s) AS b
JOIN bar_members m ON m.bar_id = b.bar_id AND m.is_active AND m.role IN ('owner', 'manager')
WHERE NOT EXISTS (SELECT 1 FROM bar_members o WHERE o.user_id = m.user_id AND o.is_active AND o.role = 'server')
LIMIT {CANDIDATES}
"""  # noqa: S608 (constants)
ACTIVE_BARS = "SELECT coalesce(array_agg(bar_id), '{}') FROM bar_members WHERE user_id = %s AND is_active"
# Every count reads the same fixed window (since, until], until being the run's instant, so sales made while the
# check runs fall outside it.
WINDOW = "created_at > %(since)s AND created_at <= %(until)s"
SERVER_EXPECTED = f"SELECT count(*) FROM sales WHERE server_id = %(user)s AND bar_id = ANY (%(bars)s) AND {WINDOW}"  # noqa: S608
MANAGER_EXPECTED = f"SELECT count(*) FROM sales WHERE bar_id = ANY (%(bars)s) AND {WINDOW}"  # noqa: S608
# What the person sees under the policies (run as the client): rows that are not theirs to see, and their own.
SERVER_SEES = (
    "SELECT count(*) FILTER (WHERE server_id IS DISTINCT FROM %(user)s), count(*) FILTER (WHERE server_id = %(user)s) "  # noqa: S608
    f"FROM sales WHERE {WINDOW}"
)
MANAGER_SEES = (
    "SELECT count(*) FILTER (WHERE NOT (bar_id = ANY (%(bars)s))), count(*) FILTER (WHERE bar_id = ANY (%(bars)s)) "  # noqa: S608
    f"FROM sales WHERE {WINDOW}"
)


def _sample(sql: str, size: int) -> list:
    people = [row[0] for row in fetchall(sql)]
    return random.sample(people, min(size, len(people)))


def _name(user_id) -> str:
    row = fetchone("SELECT coalesce(raw_user_meta_data->>'username', email, id::text) FROM auth.users WHERE id = %s",
                   [user_id])  # fmt: skip
    return row[0] if row else str(user_id)


def _seen(cursor, *, role: str, user_id, sql: str, params: dict) -> tuple[int, int]:
    _, rows = client_query(cursor, role=role, user_id=user_id, sql=sql, params=params,
                           timeout_ms=settings.RLS_PROBE_TIMEOUT_MS)  # fmt: skip
    return rows[0]


def check_rls_enforcement(*, now: datetime) -> CheckOutcome:
    """Day 1 "RLS enforcement": sampled servers and managers query sales as BarTender's clients do; a server must
    see exactly their own sales, a manager exactly their bars' sales (counts compared with the panel's own)."""
    limit = threshold("rls_enforcement_critical")
    words = f"critical > {limit:g} people seeing other than their own"
    role = settings.RLS_PROBE_ROLE
    missing_role = client_role_missing(role)
    if missing_role:
        return CheckOutcome(name="rls_enforcement", status=UNKNOWN, threshold=words, error=missing_role)
    hours = settings.HEALTH_RLS_ENFORCEMENT_WINDOW_HOURS
    since = now - timedelta(hours=hours)
    size = settings.HEALTH_RLS_ENFORCEMENT_SAMPLE
    servers, managers = _sample(SAMPLE_SERVERS, size), _sample(SAMPLE_MANAGERS, size)
    problems, people = [], []
    with connection.cursor() as cursor:
        for kind, users, expected_sql, sees_sql in (
            ("server", servers, SERVER_EXPECTED, SERVER_SEES),
            ("manager", managers, MANAGER_EXPECTED, MANAGER_SEES),
        ):
            for user in users:
                (bars,) = fetchone(ACTIVE_BARS, [user])
                params = {"user": user, "bars": bars, "since": since, "until": now}
                (expected,) = fetchone(expected_sql, params)
                not_theirs, theirs = _seen(cursor, role=role, user_id=user, sql=sees_sql, params=params)
                # Counted again after: a late commit or a backfill batch that moved the figure meanwhile makes the
                # comparison say nothing (each statement reads its own snapshot), rather than a false breach.
                (expected_after,) = fetchone(expected_sql, params)
                moving = expected_after != expected
                name = _name(user)
                people.append({"kind": kind, "user": name, "should_see": expected, "sees": theirs,
                               "sees_not_theirs": not_theirs, "changed_meanwhile": moving})  # fmt: skip
                what = "their own sales" if kind == "server" else "their bars' sales"
                if not_theirs:
                    problems.append(f"{kind} {name} sees {not_theirs:,} sales that are not {what}")
                elif theirs != expected and not moving:
                    problems.append(f"{kind} {name} sees {theirs:,} of {what}, should see {expected:,}")
    wrong = len({p.split(" sees ")[0] for p in problems})
    sample_text = f"{counted(len(servers), 'server')} and {counted(len(managers), 'manager')} sampled"
    detail = {"problems": problems, "people": people, "window_hours": hours, "role": role, "sample": len(people),
              "sample_text": sample_text,
              "needed_text": "one server with a sale carrying server_id and one manager"}  # fmt: skip
    status = CRITICAL if wrong > limit else OK
    if status == OK and not (servers and managers):
        status = INSUFFICIENT  # nothing wrong seen, but one kind of user was not probed: not a pass
    return CheckOutcome(name="rls_enforcement", status=status, value=wrong if status != INSUFFICIENT else None,
                        threshold=words, detail=detail)  # fmt: skip


# --- Consignments and returns keep a coverage check after the backfill -----------------------------------------

DAY_COUNTS = """
SELECT tbl,
       coalesce(sum(rows) FILTER (WHERE flagged AND day >= %(history)s::date), 0)::bigint,
       coalesce(sum(with_server_id) FILTER (WHERE flagged AND day >= %(history)s::date), 0)::bigint,
       coalesce(sum(rows) FILTER (WHERE day < %(history)s::date), 0)::bigint,
       coalesce(sum(with_server_id) FILTER (WHERE day < %(history)s::date), 0)::bigint,
       coalesce(sum(rows), 0)::bigint, coalesce(sum(with_server_id), 0)::bigint
FROM server_id_day_counts GROUP BY tbl
"""
COUNTED_WORDS = "rows of bars whose flags were on when written, plus the backfilled history"


def check_consignment_return_coverage(*, now: datetime) -> CheckOutcome:
    """Share of consignments and of returns that carry a server_id: those written while their bar's flags were on
    (with the flags off they are made without one by design) judged against both thresholds, since a gap there is
    the app failing now; the backfilled history against the warning one only, since its gaps are failed fallbacks
    of a finished backfill (missing mappings: data to fix, which the backfill's validation has already judged).
    The value is the lowest share judged."""
    critical = threshold("consignment_return_coverage_critical_pct")
    warning = threshold("consignment_return_coverage_warning_pct")
    before = history_before()
    rows = {tbl: figures for tbl, *figures in fetchall(
        DAY_COUNTS, {"history": before.date().isoformat() if before else "-infinity"})}  # fmt: skip
    needed = settings.HEALTH_MIN_SAMPLES.get("consignment_return_coverage", 0)
    tables, new_judged, history_judged = {}, [], []
    for table in ("consignments", "returns"):
        new_n, new_s, old_n, old_s, total, total_s = rows.get(table, (0, 0, 0, 0, 0, 0))
        new_cov, old_cov = pct(new_s, new_n), pct(old_s, old_n)
        n, s = new_n + old_n, new_s + old_s
        tables[table] = {"counted": n, "with_server_id": s, "coverage_pct": pct(s, n),
                         "flags_on": {"rows": new_n, "with_server_id": new_s, "coverage_pct": new_cov},
                         "history": {"rows": old_n, "with_server_id": old_s, "coverage_pct": old_cov},
                         "all_rows": total, "all_with_server_id": total_s}  # fmt: skip
        if new_n >= needed and new_cov is not None:
            new_judged.append(new_cov)
        if old_n >= needed and old_cov is not None:
            history_judged.append(old_cov)
    lowest = min(new_judged + history_judged, default=None)
    if lowest is None:
        status = OK
    elif min(new_judged, default=100.0) < critical:
        status = CRITICAL
    elif lowest < warning:
        status = WARNING
    else:
        status = OK
    sample = sum(t["counted"] for t in tables.values())
    outcome = CheckOutcome(
        name="consignment_return_coverage", status=status, value=lowest,
        threshold=f"critical < {critical:g} % (rows written with the flags on), warning < {warning:g} %",
        detail={"tables": tables, "counted": COUNTED_WORDS,
                "history_before": before.isoformat() if before else "no finished backfill yet"},
    )  # fmt: skip
    text = ", ".join(f"{counted(t['counted'], table[:-1])}" for table, t in tables.items()) + " counted"
    judged = new_judged + history_judged
    outcome = on_sample(outcome, sample=sample if judged else 0, sample_text=text, unit="consignments or returns")
    return outcome


# --- Data validation: all sales have bar_id ---------------------------------------------------------------------

NOT_NULL_BAR_ID = """
SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
WHERE c.relnamespace = 'public'::regnamespace AND c.relname = ANY (%s) AND a.attname = 'bar_id' AND a.attnotnull
"""


def check_sales_bar_id(*, now: datetime) -> CheckOutcome:
    """Rows of sales, consignments and returns without a bar_id (runbook data validation "All sales have bar_id",
    which RLS needs): answered by the catalog where NOT NULL guarantees it, else counted through the bar_id index."""
    guaranteed = {row[0] for row in fetchall(NOT_NULL_BAR_ID, [list(RLS_TABLES)])}
    per_table = {}
    for table in RLS_TABLES:
        if table in guaranteed:
            per_table[table] = {"orphans": 0, "guaranteed_by": "NOT NULL"}
            continue
        (count,) = fetchone(f"SELECT count(*) FROM {table} WHERE bar_id IS NULL")  # noqa: S608 (fixed table names)
        per_table[table] = {"orphans": count, "guaranteed_by": None}
    total = sum(row["orphans"] for row in per_table.values())
    limit = threshold("sales_bar_id_critical")
    return CheckOutcome(name="sales_bar_id", status=above(total, critical=limit), value=total,
                        threshold=f"critical > {limit:g}", detail={"tables": per_table})  # fmt: skip


# --- The backfill log's "many failures" -------------------------------------------------------------------------


def check_migration_failures(*, now: datetime) -> CheckOutcome:
    """Share of backfilled rows whose fallback failed (``migration_server_id_log``: fallback_used and a reason
    saying failed; runbook warning "migration_server_id_log shows many failures"), from the log's counts."""
    total, failed = fetchone(
        "SELECT coalesce(sum(logged), 0)::bigint, coalesce(sum(failed), 0)::bigint FROM migration_log_counts"
    )
    share = pct(failed, total) or 0.0
    limit = threshold("migration_failures_warning_pct")
    outcome = CheckOutcome(name="migration_failures", status=above(share, warning=limit), value=share,
                           threshold=f"warning > {limit:g} %", detail={"logged": total, "failed": failed})  # fmt: skip
    return on_sample(outcome, sample=total, sample_text=counted(total, "backfilled row"), unit="backfilled rows")

