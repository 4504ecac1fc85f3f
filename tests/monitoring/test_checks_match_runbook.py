"""The health checks read sales through ``sales_minute_counts`` (the rollup and the inserts' log, kept by triggers on
sales, adminpanel migrations 0014 and 0016): whatever the writes, every check's value equals the runbook's own SQL
run raw on the same data."""

from datetime import timedelta

import pytest
from django.db import connection

from adminpanel import runbook_sql
from adminpanel.models import MigrationServerIdLog, Sale
from monitoring.health import checks_performance, checks_runbook, health_checks, sales_window
from tests.factories import BarFactory, ServerFactory, audit_logs, flags_on, member

pytestmark = pytest.mark.django_db


def scalar(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def db_now():
    """The test transaction's NOW(), which the runbook's SQL measures its windows from."""
    return scalar("SELECT now()")


def run(name, now):
    outcome = health_checks.run_check(health_checks.CHECKS_BY_NAME[name], now=now)
    assert outcome.status != "unknown", outcome.error
    return outcome


def rollup_drift():
    """Minutes of the rollup's horizon where the rollup and the rows disagree: [(minute, rollup, rows)]."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH r AS (SELECT minute, sum(sales) AS n, sum(with_server_id) AS s, sum(flagged) AS fn,
                              sum(flagged_with_server_id) AS fs
                       FROM sales_minute_counts GROUP BY minute),
                 t AS (SELECT date_bin('1 minute', created_at, timestamptz '2000-01-01Z') AS minute,
                              count(*) AS n, count(server_id) AS s,
                              count(*) FILTER (WHERE bar_flags_on(bar_id)) AS fn,
                              count(server_id) FILTER (WHERE bar_flags_on(bar_id)) AS fs
                       FROM sales WHERE created_at >= now() - interval '48 hours' GROUP BY 1)
            SELECT minute, (r.n, r.s, r.fn, r.fs)::text, (t.n, t.s, t.fn, t.fs)::text FROM r FULL JOIN t USING (minute)
            WHERE minute >= now() - interval '47 hours'
              AND (coalesce(r.n, 0), coalesce(r.s, 0), coalesce(r.fn, 0), coalesce(r.fs, 0))
                  IS DISTINCT FROM (coalesce(t.n, 0), coalesce(t.s, 0), coalesce(t.fn, 0), coalesce(t.fs, 0))
            """
        )
        return cursor.fetchall()


@pytest.fixture
def sales_with_edges(db):
    """Sales on the awkward instants: exactly on hour and minute boundaries, exactly 24 hours old (outside the
    window), just inside it, just outside the 5-minute window, at NOW() itself, and older than the rollup's
    horizon; some with a server_id, most without. The simplified bar has its flags on (its sales are the ones the
    coverage check counts)."""
    now = db_now()
    server = ServerFactory()
    simplified = flags_on(BarFactory())
    full = BarFactory()
    member(simplified, server)
    hour = now.replace(minute=0, second=0, microsecond=0)
    minute = now.replace(second=0, microsecond=0)
    instants = [
        now,
        now - timedelta(microseconds=1),
        minute,
        minute - timedelta(microseconds=1),
        hour,
        hour - timedelta(hours=1),
        hour - timedelta(hours=23),
        now - timedelta(minutes=5),
        now - timedelta(minutes=5, microseconds=-1),
        now - timedelta(minutes=59, seconds=59),
        now - timedelta(hours=24),  # exactly 24 hours: outside, the runbook's window is open
        now - timedelta(hours=24, microseconds=-1),
        now - timedelta(hours=24, minutes=-1),
        now - timedelta(hours=30),
        now - timedelta(days=3),  # before the rollup's horizon: counted from the rows only
    ]
    sales = []
    for i, at in enumerate(instants):
        for bar in (simplified, full):
            for k in range(3):
                sales.append(Sale(bar=bar, server=server if (i + k) % 3 == 0 else None, amount=100, created_at=at))
    Sale.objects.bulk_create(sales)
    return {"now": now, "server": server, "simplified": simplified, "full": full, "instants": instants}


def assert_checks_match_runbook(now):
    coverage = run("server_id_coverage", now)
    raw = scalar(runbook_sql.HEALTH_COVERAGE_24H.replace("COUNT(*) as", "NULLIF(COUNT(*), 0) as"))
    assert coverage.detail["all_sales"] == scalar(
        "SELECT count(*) FROM sales WHERE created_at > NOW() - interval '24h'"
    )
    assert coverage.detail["all_with_server_id"] == scalar(
        "SELECT count(server_id) FROM sales WHERE created_at > NOW() - interval '24h'"
    )
    # What the check counts: the runbook's query over the sales of bars whose flags are on, plus the history.
    history = checks_runbook.history_before()
    counted, counted_with = _rows(
        "SELECT count(*), count(server_id) FROM sales WHERE created_at > NOW() - interval '24h' "
        "AND (created_at < %s::timestamptz OR bar_flags_on(bar_id))",
        [history or "-infinity"],
    )[0]
    assert (coverage.detail["sales"], coverage.detail["with_server_id"]) == (counted, counted_with)
    if coverage.detail["sales"] >= health_checks.min_sample("server_id_coverage"):
        assert coverage.value == round(counted_with * 100.0 / counted, 2)
    assert scalar(runbook_sql.DAY1_COVERAGE.replace("COUNT(*) as", "NULLIF(COUNT(*), 0) as")) == raw

    errors = run("error_logs", now)
    assert errors.detail["errors"] == scalar(runbook_sql.HEALTH_ERRORS_LAST_5_MIN)
    assert errors.detail["sales"] == scalar("SELECT count(*) FROM sales WHERE created_at > NOW() - interval '5 min'")

    assert run("orphaned_sales", now).value == scalar(runbook_sql.RCA_ORPHANED_SALES_LAST_HOUR)
    resolved = run("resolution_error_rate", now).detail["resolved_sales"]
    assert resolved == scalar(
        "SELECT count(*) FROM sales WHERE created_at > NOW() - interval '5 min' AND bar_id IN "
        "(SELECT id FROM bars WHERE settings->>'operatingMode' = 'simplified')"
    )
    assert run("adoption_rate", now).value == round(float(scalar(runbook_sql.HEALTH_ADOPTION_RATE)), 2)
    assert run("orphaned_fks", now).detail["tables"]["sales"]["orphans"] == scalar(runbook_sql.DAY1_ORPHANED)
    assert rollup_drift() == []


def test_the_checks_match_the_runbook_on_boundary_instants(sales_with_edges):
    audit_logs(3, level="error", minutes_ago=2)
    audit_logs(2, level="error", minutes_ago=6)
    assert_checks_match_runbook(sales_with_edges["now"])
    # The window really is read from the rollup: every whole minute of it is there.
    assert scalar("SELECT sum(sales) FROM sales_minute_counts") == scalar(
        "SELECT count(*) FROM sales WHERE created_at >= now() - interval '48 hours'"
    )
    # Folded by a health run, the log's rows are counted once, in the rollup.
    logged = scalar("SELECT count(*) FROM sales_minute_rollup_log")
    assert logged > 0
    assert sales_window.compact_sales_rollup() == logged
    assert scalar("SELECT count(*) FROM sales_minute_rollup_log") == 0
    assert_checks_match_runbook(sales_with_edges["now"])
    assert scalar("SELECT sum(sales) FROM sales_minute_rollup") == scalar(
        "SELECT count(*) FROM sales WHERE created_at >= now() - interval '48 hours'"
    )


def test_the_rollup_follows_the_backfill_filling_server_id(sales_with_edges):
    server = sales_with_edges["server"]
    # As the backfill does: one set-based UPDATE over some rows, then another batch.
    Sale.objects.filter(server__isnull=True, bar=sales_with_edges["simplified"]).update(server=server)
    assert_checks_match_runbook(sales_with_edges["now"])
    ids = list(Sale.objects.filter(server__isnull=True).order_by("id").values_list("id", flat=True)[:7])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE sales SET server_id = %s WHERE id = ANY(%s)", [server.pk, ids])
    assert_checks_match_runbook(sales_with_edges["now"])


def test_the_rollup_follows_server_id_cleared_moved_sales_and_deletes(sales_with_edges):
    now = sales_with_edges["now"]
    with connection.cursor() as cursor:
        # ON DELETE SET NULL on the foreign key clears server_id through an UPDATE the trigger sees too.
        cursor.execute("UPDATE sales SET server_id = NULL WHERE id IN (SELECT id FROM sales WHERE server_id "
                       "IS NOT NULL ORDER BY id LIMIT 5)")  # fmt: skip
        # created_at corrected: out of the window, into it, and across the rollup's horizon both ways.
        cursor.execute("UPDATE sales SET created_at = created_at - interval '2 days' WHERE created_at = %s", [now])
        cursor.execute("UPDATE sales SET created_at = %s WHERE created_at = %s", [now, now - timedelta(days=3)])
        cursor.execute(
            "UPDATE sales SET created_at = created_at + interval '30 seconds' "
            "WHERE created_at > now() - interval '2 hours' AND created_at < now() - interval '1 hour'"
        )
        cursor.execute("UPDATE sales SET amount = amount + 1")  # changes nothing the rollup counts
    sales_window.compact_sales_rollup()  # a health run folds the inserts' log between the writes
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM sales WHERE id IN (SELECT id FROM sales ORDER BY id DESC LIMIT 9)")
    assert_checks_match_runbook(now)
    Sale.objects.filter(created_at__gt=now - timedelta(hours=1)).first().delete()  # the ORM's single-row delete
    assert_checks_match_runbook(now)


def test_the_rollup_follows_a_server_deleted_and_a_truncate(sales_with_edges):
    now = sales_with_edges["now"]
    sales_with_edges["server"].delete()  # ON DELETE SET NULL on sales.server_id
    assert_checks_match_runbook(now)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses pending deferred FK checks
        cursor.execute("TRUNCATE sales CASCADE")
    assert scalar("SELECT count(*) FROM sales_minute_counts") == 0
    assert run("server_id_coverage", now).detail["sales"] == 0


def test_a_client_role_without_rights_on_the_rollup_still_counts(sales_with_edges):
    """BarTender's clients insert sales as Supabase's `authenticated` role under RLS, with no right on the panel's
    rollup: the SECURITY DEFINER trigger counts their sale all the same."""
    bar, server = sales_with_edges["simplified"], sales_with_edges["server"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('request.jwt.claims', %s, true)", [health_checks.jwt_claims(server.pk)])
        cursor.execute("SET LOCAL ROLE authenticated")
        cursor.execute(
            "INSERT INTO sales (bar_id, server_id, created_by, server_name, amount, created_at) "
            "VALUES (%s, %s, %s, 'x', 5, now() - interval '10 minutes')",
            [bar.pk, server.pk, server.pk],
        )
        cursor.execute("RESET ROLE")
    assert_checks_match_runbook(sales_with_edges["now"])


@pytest.mark.parametrize("hours_back", [0, 0.5, 12, 23.99, 30, 47, 60])
def test_windows_across_the_rollup_horizon_count_exactly(sales_with_edges, hours_back):
    """A window wholly inside the rollup's trusted horizon, straddling it, or wholly before it (counted from the
    rows): always the exact count of the rows."""
    now = sales_with_edges["now"] - timedelta(hours=hours_back)
    for since in (now - timedelta(hours=24), now - timedelta(minutes=5), now - timedelta(hours=50)):
        expected = tuple(
            _rows(
                "SELECT count(*), count(server_id) FROM sales WHERE created_at > %s AND created_at <= %s",
                [since, now],
            )[0]
        )
        assert sales_window.sales_in_window(since, now) == expected


def test_the_fallback_check_matches_the_runbook_backfill_results(sales_with_edges):
    sale_ids = list(Sale.objects.order_by("id").values_list("id", flat=True)[:40])
    MigrationServerIdLog.objects.bulk_create(
        MigrationServerIdLog(sale_id=sale_id, fallback_used=i % 4 == 0,
                             fallback_reason="resolution failed" if i % 8 == 0 else None)
        for i, sale_id in enumerate(sale_ids)
    )  # fmt: skip
    assert_fallbacks_match_runbook(sales_with_edges["now"])
    # A backfill re-run rewriting reasons, a reset deleting rows, then the log emptied.
    MigrationServerIdLog.objects.filter(sale_id__in=sale_ids[:10]).update(fallback_used=True, fallback_reason="failed")
    MigrationServerIdLog.objects.filter(sale_id__in=sale_ids[30:]).delete()
    assert_fallbacks_match_runbook(sales_with_edges["now"])
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("TRUNCATE migration_server_id_log")
    assert run("fallback_mappings", sales_with_edges["now"]).detail["logged"] == 0


def assert_fallbacks_match_runbook(now):
    outcome = run("fallback_mappings", now)
    by_flag = dict(_rows(runbook_sql.STEP6_BACKFILL_RESULTS))
    assert outcome.detail["logged"] == sum(by_flag.values()) > 0
    assert outcome.detail["fallbacks"] == by_flag.get(True, 0) > 0
    # Runbook validation 4 counts every reason saying "failed"; the check counts those of fallbacks, which the
    # seed makes the same rows.
    assert outcome.detail["failed"] == scalar(runbook_sql.VALIDATION_MIGRATION_FAILURES) > 0


def _rows(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


# The statement list as one query over the pg_stat_statements view, texts and all (what the check read before it
# kept texts per queryid).
RLS_STATEMENTS_VIEW = f"""
SELECT query, calls, mean_exec_time FROM pg_stat_statements
WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND calls >= %(min_calls)s
  AND queryid IS NOT NULL AND {checks_performance.RLS_BOUND_QUERY}
ORDER BY mean_exec_time DESC LIMIT %(limit)s
"""  # noqa: S608 (constants)


def test_the_rls_statement_list_matches_the_view_read_whole(sales_with_edges, monkeypatch):
    monkeypatch.setattr(checks_performance, "_statement_texts", {})
    bar = sales_with_edges["simplified"]
    for _ in range(6):
        Sale.objects.create(bar=bar, amount=1)
        with connection.cursor() as cursor:
            cursor.execute("UPDATE sales SET amount = amount WHERE id = -1")
    expected = [
        {"query": q, "calls": c, "mean_ms": round(m, 2)}
        for q, c, m in _rows(RLS_STATEMENTS_VIEW, {"min_calls": 5, "limit": 5})
    ]
    first = checks_performance.rls_statement_stats(limit=5, min_calls=5)  # reads the texts
    assert checks_performance._statement_texts
    second = checks_performance.rls_statement_stats(limit=5, min_calls=5)  # from the kept texts
    assert first == second == expected
    assert any(row["query"].upper().startswith('INSERT INTO "SALES"') for row in expected)


def test_a_health_run_prunes_the_minutes_no_check_trusts_and_the_checks_still_match(sales_with_edges):
    from monitoring.health import services

    sales_window.compact_sales_rollup()
    before = scalar("SELECT count(*) FROM sales_minute_rollup")
    with connection.cursor() as cursor:  # a minute older than the trusted horizon (a late write to an old sale)
        cursor.execute(
            "INSERT INTO sales_minute_rollup (minute, slot, sales, with_server_id) VALUES (date_bin('1 minute', "
            "now() - interval '47 hours 30 minutes', timestamptz '2000-01-01Z'), 3, 5, 5)"
        )
    services.run_health_checks(trigger="command")
    assert scalar("SELECT count(*) FROM sales_minute_rollup") == before
    assert scalar("SELECT count(*) FROM sales_minute_rollup WHERE minute < now() - interval '47 hours'") == 0
    assert_checks_match_runbook(sales_with_edges["now"])


def test_a_writer_never_waits_for_another_open_transaction_of_the_same_minute(sales_with_edges):
    """This test's transaction has counted sales of the current minute and stays open; a till inserting a sale of
    that same minute on its own connection (autocommit, as BarTender's clients) is not held up by it."""
    import psycopg

    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    at = sales_with_edges["now"]
    with psycopg.connect(**params, autocommit=True) as till:
        till.execute("SET lock_timeout = '2s'")
        bar = till.execute(
            "INSERT INTO bars (id, name, settings, is_internal, created_at) "
            "VALUES (gen_random_uuid(), 'Till test bar', '{}'::jsonb, false, now()) RETURNING id"
        ).fetchone()[0]
        try:
            till.execute("INSERT INTO sales (bar_id, amount, created_at) VALUES (%s, 1, %s)", [bar, at])
            till.execute("UPDATE sales SET amount = 2 WHERE bar_id = %s", [bar])
            assert till.execute("SELECT count(*) FROM sales WHERE bar_id = %s", [bar]).fetchone()[0] == 1
            assert_checks_match_runbook(sales_with_edges["now"])  # the till's committed sale is counted
        finally:
            till.execute("DELETE FROM sales WHERE bar_id = %s", [bar])
            till.execute("DELETE FROM bars WHERE id = %s", [bar])
    assert_checks_match_runbook(sales_with_edges["now"])


def test_a_sale_committed_while_the_log_is_folded_is_counted_once(sales_with_edges):
    """A till's sale still uncommitted while a health run folds the log: the fold neither waits for it nor loses
    it; it is counted from the log once committed, and folded by the next run."""
    import psycopg

    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    now = sales_with_edges["now"]
    with psycopg.connect(**params, autocommit=True) as till:
        bar = till.execute(
            "INSERT INTO bars (id, name, settings, is_internal, created_at) "
            "VALUES (gen_random_uuid(), 'Fold test bar', '{}'::jsonb, false, now()) RETURNING id"
        ).fetchone()[0]
        try:
            with till.transaction():
                till.execute("INSERT INTO sales (bar_id, amount, created_at) VALUES (%s, 1, %s)", [bar, now])
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '2s'")
                sales_window.compact_sales_rollup()  # cannot see the till's row yet
            assert scalar("SELECT count(*) FROM sales_minute_rollup_log") == 1  # the till's, committed
            assert_checks_match_runbook(now)
            assert sales_window.compact_sales_rollup() == 1
            assert_checks_match_runbook(now)
        finally:
            till.execute("DELETE FROM sales WHERE bar_id = %s", [bar])
            till.execute("DELETE FROM bars WHERE id = %s", [bar])
    assert_checks_match_runbook(now)
