"""Each check driven across its thresholds with data (ok → warning → critical), runbook examples included."""

import pytest
from django.db import connection, transaction
from django.utils import timezone

from adminpanel import runbook_sql
from adminpanel.models import BarMember, MigrationServerIdLog, Sale
from monitoring.health import checks_performance, health_checks
from tests.factories import BarFactory, ServerFactory, audit_logs

pytestmark = pytest.mark.django_db


def run(name):
    return health_checks.run_check(health_checks.CHECKS_BY_NAME[name], now=timezone.now())


def simplified_bar():
    return BarFactory(settings={"operatingMode": "simplified"})


@pytest.mark.parametrize(("with_server", "status"), [(99, "ok"), (97, "warning"), (94, "critical"), (95, "warning")])
def test_coverage_follows_the_runbook_examples(make_sales, with_server, status):
    make_sales(100, with_server)
    outcome = run("server_id_coverage")
    assert (outcome.status, outcome.value) == (status, float(with_server))


def test_coverage_ignores_sales_older_than_24_hours(make_sales):
    make_sales(100, 99)
    make_sales(100, 0, minutes_ago=25 * 60)
    assert run("server_id_coverage").status == "ok"


def test_coverage_without_sales_is_not_enough_data_and_has_no_value(db):
    outcome = run("server_id_coverage")
    assert (outcome.status, outcome.value) == ("insufficient", None)
    assert outcome.detail["sample_text"].startswith("0 sales (no bar has its flags on")


@pytest.mark.parametrize(("failures", "status"), [(0, "ok"), (5, "ok"), (6, "critical")])
def test_resolution_error_rate_is_critical_above_5_percent(make_sales, failures, status):
    make_sales(100 - failures, 100 - failures, bar=simplified_bar())
    audit_logs(failures, error_type="server_id_resolution", level="warning")
    outcome = run("resolution_error_rate")
    assert outcome.status == status
    assert outcome.value == float(failures)


def test_resolution_errors_older_than_5_minutes_do_not_count(make_sales):
    make_sales(20, 20, bar=simplified_bar())
    audit_logs(10, error_type="server_id_resolution", minutes_ago=6)
    assert run("resolution_error_rate").status == "ok"


@pytest.mark.parametrize(("violations", "status"), [(0, "ok"), (9, "ok"), (10, "critical"), (11, "critical")])
def test_rls_violations_are_critical_from_10_the_runbooks_10_plus(db, violations, status):
    audit_logs(violations, error_type="rls_violation", level="error")
    outcome = run("rls_violations")
    assert (outcome.status, outcome.value) == (status, violations)


def test_one_orphaned_sale_in_a_simplified_bar_is_critical(make_sales):
    make_sales(5, 5, bar=simplified_bar())
    assert run("orphaned_sales").status == "ok"
    make_sales(1, 0, bar=simplified_bar())
    outcome = run("orphaned_sales")
    assert (outcome.status, outcome.value) == ("critical", 1)


def test_sales_without_server_outside_simplified_bars_or_the_hour_are_not_orphans(make_sales):
    make_sales(3, 0, bar=BarFactory(settings={"operatingMode": "full"}))
    make_sales(3, 0, bar=simplified_bar(), minutes_ago=61)
    assert run("orphaned_sales").value == 0


def test_orphaned_fks_are_guaranteed_by_the_validated_constraint(db):
    outcome = run("orphaned_fks")
    assert outcome.status == "ok"
    assert outcome.detail["tables"]["sales"]["guaranteed_by"] == "sales_server_id_fkey"


def test_one_orphaned_fk_is_critical_when_no_constraint_guards_the_column(db):
    bar = BarFactory()
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE sales DROP CONSTRAINT sales_server_id_fkey")
        cursor.execute(
            "INSERT INTO sales (bar_id, server_id, amount, created_at) VALUES (%s, gen_random_uuid(), 1, now())",
            [bar.pk],
        )
    outcome = run("orphaned_fks")
    assert (outcome.status, outcome.value) == ("critical", 1)
    assert outcome.detail["tables"]["sales"] == {"orphans": 1, "guaranteed_by": None}


def test_db_connections_are_critical_above_the_share(db, thresholds):
    assert run("db_connections").status == "ok"
    thresholds(db_connections_critical_pct=0.5)
    outcome = run("db_connections")
    assert outcome.status == "critical"
    assert outcome.detail["used"] >= 1


@pytest.mark.parametrize(("fallbacks", "failed", "status"), [(0, 0, "ok"), (10, 0, "ok"), (11, 2, "warning")])
def test_fallback_mappings_warn_above_10_percent(db, fallbacks, failed, status):
    MigrationServerIdLog.objects.bulk_create(
        MigrationServerIdLog(
            sale_id=i,
            fallback_used=i < fallbacks,
            fallback_reason=("lookup failed" if i < failed else "no mapping") if i < fallbacks else None,
        )
        for i in range(100)
    )
    outcome = run("fallback_mappings")
    assert (outcome.status, outcome.value) == (status, float(fallbacks))
    assert outcome.detail["failed"] == failed


@pytest.mark.parametrize(("count", "status"), [(100, "ok"), (101, "warning")])
def test_errors_mentioning_server_id_warn_above_100_an_hour(db, count, status):
    audit_logs(count // 2, level="error", error_message="serverId missing on sale")
    audit_logs(count - count // 2, level="error", error_message="bad server_id for bar")
    audit_logs(50, level="error", error_message="serverId missing", minutes_ago=61)
    audit_logs(50, level="info", error_message="serverId resolved")
    outcome = run("serverid_errors")
    assert (outcome.status, outcome.value) == (status, count)


@pytest.mark.parametrize(("errors", "sales", "status"), [(0, 100, "ok"), (1, 199, "warning"), (3, 97, "critical")])
def test_error_logs_warn_on_any_error_and_are_critical_above_1_percent(make_sales, errors, sales, status):
    make_sales(sales, sales)
    audit_logs(errors, level="error", error_type="crash")
    outcome = run("error_logs")
    assert (outcome.status, outcome.value) == (status, errors)


def test_rls_policies_present_and_enabled_are_ok(db):
    outcome = run("rls_policies")
    assert outcome.status == "ok"
    assert outcome.detail["policies"]["sales"] == ["DELETE", "INSERT", "SELECT", "UPDATE"]


def test_rls_disabled_or_a_missing_policy_is_critical(db):
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE returns DISABLE ROW LEVEL SECURITY")
        cursor.execute("DROP POLICY sales_delete_bar_manager ON sales")
    outcome = run("rls_policies")
    assert outcome.status == "critical"
    assert outcome.detail["problems"] == ["sales: no delete policy", "returns: row level security disabled"]


def test_indexes_usable_is_ok_with_the_runbook_indexes(db):
    outcome = run("indexes_usable")
    assert outcome.status == "ok"
    assert any(n["index"] == "idx_bars_operating_mode" for n in outcome.detail["plans"]["operating_mode"]["index_only"])


def test_a_dropped_operating_mode_index_is_a_sequential_scan_warning(db):
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX idx_bars_operating_mode")
    outcome = run("indexes_usable")
    assert outcome.status == "warning"
    assert outcome.detail["problems"] == ["operating_mode: no usable index on bars"]


def test_a_sequential_scan_chosen_on_a_big_enough_table_is_a_warning(db, thresholds):
    BarFactory.create_batch(3)
    thresholds(seqscan_min_rows=0)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE bars")
        # Dead rows left by earlier tests can make an index scan look cheaper; make reading the heap cheap so
        # the planner's choice is the sequential scan this test is about, whatever ran before.
        cursor.execute("SET LOCAL seq_page_cost = 0.001")
    outcome = run("indexes_usable")
    assert outcome.status == "warning"
    assert "sequential scan chosen on bars" in outcome.detail["problems"][0]


def test_adoption_below_the_expected_share_warns(db, settings):
    settings.HEALTH_ADOPTION_EXPECTED_PCT = 50
    BarFactory.create_batch(3)
    simplified_bar()
    outcome = run("adoption_rate")
    assert (outcome.status, outcome.value) == ("warning", 25.0)
    simplified_bar()
    simplified_bar()
    assert run("adoption_rate").value == 50.0
    assert run("adoption_rate").status == "ok"


def test_query_latency_reads_the_clients_statements_since_the_previous_run_and_follows_its_thresholds(
    db, thresholds, monkeypatch
):
    _, baseline = checks_performance.client_latency_window(None)
    monkeypatch.setattr(checks_performance, "_previous_latency_figures", lambda: baseline)
    with connection.cursor() as cursor:  # the panel's own writes never count
        for _ in range(5):
            cursor.execute("UPDATE sales SET amount = amount WHERE id = -2")
    assert run("query_latency").status == "insufficient"
    with transaction.atomic(), connection.cursor() as cursor:  # Supabase's clients run as `authenticated`
        cursor.execute("SELECT set_config('role', 'authenticated', true)")
        for _ in range(5):
            cursor.execute("UPDATE sales SET amount = amount WHERE id = -1")
        cursor.execute("SELECT set_config('role', 'none', true)")
    assert run("query_latency").status == "ok"
    thresholds(query_latency_warning_ms=-1)
    assert run("query_latency").status == "warning"
    thresholds(query_latency_critical_ms=-1)
    outcome = run("query_latency")
    assert outcome.status == "critical"
    # One statement (the same normalised text as the panel's): only the clients' 5 calls are counted.
    assert [row["calls"] for row in outcome.detail["slowest"]] == [5]
    assert outcome.detail["slowest"][0]["query"].startswith("UPDATE sales SET amount = amount")
    assert str(outcome.detail["snapshot"])  # kept for the next run to measure from


def test_query_latency_says_unknown_extension_not_installed_without_pg_stat_statements(db, monkeypatch):
    assert checks_performance.pg_stat_statements_installed()  # the local cluster has it (bin/dev); a database may not
    monkeypatch.setattr(checks_performance, "pg_stat_statements_installed", lambda: False)
    outcome = run("query_latency")
    assert (outcome.status, outcome.error) == ("unknown", "extension not installed")


def test_a_failing_check_is_unknown_with_its_error_and_never_stops_the_others(db, monkeypatch):
    def broken(*, now):
        raise ZeroDivisionError("boom")

    suite = (health_checks.Check("broken", "Broken", broken), *health_checks.CHECKS)
    monkeypatch.setattr(health_checks, "CHECKS", suite)
    outcomes = health_checks.run_checks()
    assert outcomes[0].status == "unknown"
    assert outcomes[0].error == "ZeroDivisionError: boom"
    assert [o.name for o in outcomes[1:]] == [c.name for c in suite[1:]]
    assert all(o.status != "unknown" or health_checks.not_configured(o) for o in outcomes[1:])


def test_a_check_slower_than_the_statement_timeout_is_unknown(db, settings, monkeypatch):
    settings.HEALTH_CHECK_STATEMENT_TIMEOUT_MS = 50

    def slow(*, now):
        health_checks._fetchone("SELECT pg_sleep(2)")
        return health_checks.CheckOutcome(name="slow", status="ok")

    outcome = health_checks.run_check(health_checks.Check("slow", "Slow", slow))
    assert outcome.status == "unknown"
    assert "statement timeout" in outcome.error
    assert run("rls_policies").status == "ok"  # the connection is still usable


def test_rls_client_latency_probes_the_client_queries_as_the_client_role(db, thresholds):
    """Issue 16: every run times BarTender's own client queries as the non-owner role, under the policies."""
    bar = BarFactory()
    server, manager = ServerFactory(username="probe_server"), ServerFactory(username="probe_manager")
    BarMember.objects.create(bar=bar, user=server, role="server")
    BarMember.objects.create(bar=bar, user=manager, role="manager")
    Sale.objects.create(bar=bar, amount=1, server=server, created_by=server)
    outcome = run("rls_client_latency")
    assert outcome.status == "ok", outcome.error
    assert set(outcome.detail["queries_ms"]) == {name for _, name, _ in runbook_sql.RLS_CLIENT_QUERIES}
    assert outcome.value == max(outcome.detail["queries_ms"].values()) > 0
    with connection.cursor() as cursor:  # the probe's role and JWT claims ended with it
        cursor.execute("SELECT current_user = session_user, current_setting('request.jwt.claims', true)")
        assert cursor.fetchone() in {(True, None), (True, "")}
    thresholds(query_latency_warning_ms=-1)
    assert run("rls_client_latency").status == "warning"


def test_rls_client_latency_is_unknown_and_says_why_without_the_client_role(db, settings):
    settings.RLS_PROBE_ROLE = "no_such_role_here"
    outcome = run("rls_client_latency")
    assert outcome.status == "unknown" and "'no_such_role_here' (RLS_PROBE_ROLE) does not exist" in outcome.error
