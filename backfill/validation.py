"""Post-migration validation (runbook section 2.2) and the "Security & Data Integrity" checks, as one click.

Every check runs the runbook's SQL from ``adminpanel.runbook_sql`` (verbatim, or its ``*_FIXED`` sibling where
the runbook's text cannot run), reads the figure from it, and stores pass/fail, the measured value, what was
expected and the SQL text, so the page's figures are exactly what a person pasting that SQL would see.
Plans are read with ``EXPLAIN (FORMAT JSON)`` only, never ``EXPLAIN ANALYZE``. A check that errors is stored
as failed with its error; it never stops the others.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, transaction

from adminpanel import runbook_sql
from adminpanel.audit import record_event
from adminpanel.runbook_sql import OPERATING_MODE_INDEX, POLICY_COMMANDS, RLS_TABLES
from adminpanel.sql_probe import explain_json, plan_nodes, time_limited_cursor
from backfill.models import ValidationCheck, ValidationRun
from backfill.selectors import LOG_TOTALS_SQL, log_totals

SECTION_22 = "2.2 Post-migration validation"
SECTION_SECURITY = "Security & Data Integrity"
# Below this many rows PostgreSQL rightly prefers a sequential scan of bars; the check then proves the index
# is usable by planning again with sequential scans disabled.
SMALL_TABLE_ROWS = 1000

POLICY_COMMANDS_SQL = """
SELECT tablename, cmd, COUNT(*) AS policies
FROM pg_policies
WHERE tablename IN ('sales', 'consignments', 'returns')
GROUP BY tablename, cmd
ORDER BY tablename, cmd
"""
SERVER_ID_INDEXES_SQL = """
SELECT t.relname AS table_name, i.relname AS index_name
FROM pg_index x
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0]
WHERE t.relname IN ('sales', 'consignments', 'returns') AND a.attname = 'server_id'
  AND t.relnamespace = 'public'::regnamespace
ORDER BY t.relname, i.relname
"""


@dataclass
class Outcome:
    passed: bool
    value: str
    detail: dict = field(default_factory=dict)
    sql: str = ""


@dataclass(frozen=True)
class Check:
    key: str
    section: str
    label: str
    expected: str
    measure: Callable[[object], Outcome]


def _rows(cursor, sql: str) -> list[tuple]:
    cursor.execute(sql)
    return cursor.fetchall()


def fk_on_delete_sql(table: str) -> str:
    """The runbook's step-4 check (corrected: see runbook_sql) for one of the three tables."""
    return runbook_sql.STEP4_FK_ON_DELETE_FIXED.replace("tc.table_name='sales'", f"tc.table_name='{table}'")


# --- The checks --------------------------------------------------------------------------------------------


def measure_population(cursor) -> Outcome:
    sql = runbook_sql.VALIDATION_SERVER_ID_POPULATION
    total, with_id, without_id = _rows(cursor, sql)[0]
    pct = round(with_id * 100.0 / total, 2) if total else 100.0
    threshold = settings.BACKFILL_VALIDATION_MIN_POPULATION_PCT
    return Outcome(
        passed=(pct > threshold) if total else True,
        value=f"{with_id} of {total} sales have server_id ({pct} %); {without_id} without",
        detail={"total_sales": total, "with_server_id": with_id, "without_server_id": without_id, "pct": pct},
        sql=sql,
    )


def measure_orphans(cursor) -> Outcome:
    sql = runbook_sql.VALIDATION_ORPHANED_FKS
    count = _rows(cursor, sql)[0][0]
    return Outcome(passed=count == 0, value=f"{count} orphaned server_id", detail={"count": count}, sql=sql)


def measure_index_scan(cursor) -> Outcome:
    query = runbook_sql.VALIDATION_OPERATING_MODE_QUERY
    plan = explain_json(cursor, query)
    nodes = plan_nodes(plan)
    node_types = [node["Node Type"] for node in nodes]
    uses_index = any(node.get("Index Name") == OPERATING_MODE_INDEX for node in nodes)
    detail = {"node_types": node_types, "uses_index": uses_index}
    sql = "EXPLAIN (FORMAT JSON)\n" + query.strip()
    if uses_index:
        return Outcome(True, f"index scan on {OPERATING_MODE_INDEX} ({' → '.join(node_types)})", detail, sql)
    bars = _rows(cursor, "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE oid = 'bars'::regclass")[0][0]
    detail["bars_estimate"] = bars
    if bars < SMALL_TABLE_ROWS:
        cursor.execute("SET LOCAL enable_seqscan = off")
        forced = plan_nodes(explain_json(cursor, query))
        cursor.execute("SET LOCAL enable_seqscan = on")
        usable = any(node.get("Index Name") == OPERATING_MODE_INDEX for node in forced)
        detail["index_usable_when_forced"] = usable
        sql += "\n-- small table: planned again with SET LOCAL enable_seqscan = off"
        if usable:
            return Outcome(
                True,
                f"sequential scan of a small table (~{bars} bars); {OPERATING_MODE_INDEX} is used once it pays",
                detail,
                sql,
            )
    return Outcome(False, f"no index scan: {' → '.join(node_types)}", detail, sql)


def measure_failures(cursor) -> Outcome:
    sql = runbook_sql.VALIDATION_MIGRATION_FAILURES
    count = _rows(cursor, sql)[0][0]
    limit = settings.BACKFILL_VALIDATION_MAX_FAILED_ROWS
    return Outcome(count <= limit, f"{count} failed rows in the migration log", {"count": count}, sql)


def measure_backfill_results(cursor) -> Outcome:
    """The runbook's step-6 count (fallback_used true/false over the whole log) with its breakdown, in the words
    the backfill page uses for one run (``backfill.selectors.OUTCOME_WORDS``), so the two can be reconciled."""
    sql = runbook_sql.STEP6_BACKFILL_RESULTS
    rows = dict(_rows(cursor, sql))
    mapped, fallback = rows.get(False, 0), rows.get(True, 0)
    totals = log_totals(cursor)
    pending = _rows(cursor, "SELECT COUNT(*) - COUNT(server_id) FROM sales")[0][0]
    return Outcome(
        passed=bool(mapped or fallback) or pending == 0,
        value=totals.sentence(),
        detail={
            "fallback_false": mapped,
            "fallback_true": fallback,
            "by_fallback": totals.by_fallback,
            "left_null": totals.left_null,
            "failed": totals.failed,
            "sales_without_server_id": pending,
        },
        sql=sql.strip() + "\n\n-- the breakdown, in the backfill page's words:\n" + LOG_TOTALS_SQL.strip(),
    )


def measure_rls(cursor) -> Outcome:
    sql = runbook_sql.SECURITY_RLS_ENABLED
    found = dict(_rows(cursor, sql))
    states = {table: bool(found.get(table)) for table in RLS_TABLES}
    return Outcome(
        passed=all(states.values()),
        value=", ".join(f"{table}: {'on' if on else 'OFF'}" for table, on in states.items()),
        detail={"rowsecurity": states},
        sql=sql,
    )


def measure_policies(cursor) -> Outcome:
    sql = runbook_sql.SECURITY_POLICIES
    policies: dict[str, list[str]] = {table: [] for table in RLS_TABLES}
    for table, name in _rows(cursor, sql):
        policies.setdefault(table, []).append(name)
    commands: dict[str, list[str]] = {table: [] for table in RLS_TABLES}
    for table, cmd, _count in _rows(cursor, POLICY_COMMANDS_SQL):
        commands.setdefault(table, []).append(cmd)
    missing = {
        table: [cmd for cmd in POLICY_COMMANDS if cmd not in commands[table] and "ALL" not in commands[table]]
        for table in RLS_TABLES
    }
    missing = {table: cmds for table, cmds in missing.items() if cmds}
    value = ", ".join(f"{table}: {len(policies[table])}" for table in RLS_TABLES)
    if missing:
        value += "; missing " + "; ".join(f"{t} {'/'.join(c)}" for t, c in missing.items())
    return Outcome(
        passed=not missing,
        value=value,
        detail={"policies": {t: sorted(n) for t, n in policies.items()}, "commands": commands, "missing": missing},
        sql=sql.strip() + "\n\n" + POLICY_COMMANDS_SQL.strip(),
    )


def measure_fk_rules(cursor) -> Outcome:
    rules: dict[str, list] = {}
    sqls = []
    for table in RLS_TABLES:
        sql = fk_on_delete_sql(table)
        sqls.append(sql.strip())
        rules[table] = [{"constraint": name, "delete_rule": rule} for name, rule in _rows(cursor, sql)]
    ok = {table: bool(found) and all(r["delete_rule"] == "SET NULL" for r in found) for table, found in rules.items()}
    return Outcome(
        passed=all(ok.values()),
        value=", ".join(
            f"{table}: {'/'.join(r['delete_rule'] for r in rules[table]) or 'no FK'}" for table in RLS_TABLES
        ),
        detail={"rules": rules},
        sql="\n\n".join(sqls),
    )


def measure_indexes(cursor) -> Outcome:
    mode_sql = runbook_sql.STEP5_OPERATING_MODE_INDEX
    mode_indexes = [row[0] for row in _rows(cursor, mode_sql)]
    server_indexes: dict[str, list[str]] = {table: [] for table in RLS_TABLES}
    for table, index in _rows(cursor, SERVER_ID_INDEXES_SQL):
        server_indexes[table].append(index)
    missing = [] if OPERATING_MODE_INDEX in mode_indexes else [OPERATING_MODE_INDEX]
    missing += [f"{table}(server_id)" for table, found in server_indexes.items() if not found]
    return Outcome(
        passed=not missing,
        value=(", ".join(mode_indexes) or "no operatingMode index")
        + "; server_id indexed on "
        + ", ".join(t for t, found in server_indexes.items() if found)
        + (f"; missing {', '.join(missing)}" if missing else ""),
        detail={"operating_mode_indexes": mode_indexes, "server_id_indexes": server_indexes, "missing": missing},
        sql=mode_sql.strip() + "\n\n" + SERVER_ID_INDEXES_SQL.strip(),
    )


CHECKS = (
    Check(
        "server_id_population",
        SECTION_22,
        "1. server_id population",
        "with_server_id > 95 % of total",
        measure_population,
    ),
    Check("orphaned_fks", SECTION_22, "2. Foreign key integrity (orphaned server_id)", "0", measure_orphans),
    Check(
        "operating_mode_index_scan",
        SECTION_22,
        "3. operatingMode query uses its index",
        "index scan",
        measure_index_scan,
    ),
    Check("migration_failures", SECTION_22, "4. Failures in the migration log", "0 (or very low)", measure_failures),
    Check(
        "backfill_results",
        SECTION_22,
        "Backfill results (step 6)",
        "rows logged, or nothing to backfill",
        measure_backfill_results,
    ),
    Check(
        "rls_enabled",
        SECTION_SECURITY,
        "RLS enabled on sales, consignments, returns",
        "rowsecurity = true ×3",
        measure_rls,
    ),
    Check(
        "rls_policies",
        SECTION_SECURITY,
        "RLS policies present",
        "select, insert, update, delete per table",
        measure_policies,
    ),
    Check("fk_delete_rule", SECTION_SECURITY, "server_id FK rule ON DELETE SET NULL", "SET NULL ×3", measure_fk_rules),
    Check(
        "indexes_present",
        SECTION_SECURITY,
        "Indexes present",
        "idx_bars_operating_mode + server_id ×3",
        measure_indexes,
    ),
)


def _measure(check: Check) -> tuple[Outcome, str]:
    try:
        with time_limited_cursor(settings.BACKFILL_VALIDATION_STATEMENT_TIMEOUT_MS) as cursor:
            return check.measure(cursor), ""
    except (DatabaseError, ValueError, KeyError, IndexError, TypeError) as exc:
        return Outcome(passed=False, value="error", sql=""), f"{type(exc).__name__}: {exc}"


def run_validation(*, run_by=None) -> ValidationRun:
    """Run every check now and store the run with one line per check (pass/fail, value, SQL)."""
    started = time.perf_counter()
    results = [(check, *_measure(check)) for check in CHECKS]
    with transaction.atomic():
        run = ValidationRun.objects.create(
            run_by=run_by if getattr(run_by, "pk", None) else None,
            run_by_name=getattr(run_by, "username", "") or "system",
            passed=all(outcome.passed for _, outcome, _ in results),
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
        ValidationCheck.objects.bulk_create(
            ValidationCheck(
                run=run,
                position=position,
                key=check.key,
                section=check.section,
                label=check.label,
                passed=outcome.passed,
                value=outcome.value,
                expected=check.expected,
                detail=outcome.detail,
                sql=(outcome.sql or "").strip(),
                error=error,
            )
            for position, (check, outcome, error) in enumerate(results, start=1)
        )
        record_event(
            actor=run_by,
            action="validation.run",
            target=run,
            after={"passed": run.passed, "failed_checks": [c.key for c, o, _ in results if not o.passed]},
        )
    return run


def latest_validation() -> ValidationRun | None:
    return ValidationRun.objects.select_related("run_by").prefetch_related("checks").first()
