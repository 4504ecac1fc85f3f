"""The post-migration validation panel: figures equal the runbook's SQL run by hand; one click; stored."""

import pytest
from django.db import connection
from django.urls import reverse

from adminpanel import runbook_sql
from adminpanel.models import MigrationServerIdLog, PanelEvent
from backfill.models import ValidationRun
from backfill.validation import CHECKS, fk_on_delete_sql, run_validation
from tests.factories import SaleFactory, ServerFactory

pytestmark = pytest.mark.django_db


def by_hand(sql: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


@pytest.fixture
def data(bar, other_bar):
    server = ServerFactory(username="validation_server")
    for _ in range(19):
        SaleFactory(bar=bar, server=server)
    SaleFactory(bar=other_bar, server=None)
    MigrationServerIdLog.objects.create(sale_id=1, bar=bar, fallback_used=False)
    MigrationServerIdLog.objects.create(sale_id=2, bar=bar, fallback_used=True, fallback_reason="unmapped_name")
    MigrationServerIdLog.objects.create(sale_id=3, bar=bar, fallback_used=True, fallback_reason="failed: boom")


def test_the_validation_figures_equal_the_runbooks_sql_run_by_hand(data):
    run = run_validation()
    checks = {check.key: check for check in run.checks.all()}
    assert [c.key for c in run.checks.all()] == [c.key for c in CHECKS]

    total, with_id, without_id = by_hand(runbook_sql.VALIDATION_SERVER_ID_POPULATION)[0]
    population = checks["server_id_population"].detail
    assert (
        (population["total_sales"], population["with_server_id"], population["without_server_id"])
        == (
            total,
            with_id,
            without_id,
        )
        == (20, 19, 1)
    )
    assert checks["server_id_population"].passed is (with_id * 100 / total > 95) is False  # exactly 95 %: not > 95
    assert checks["orphaned_fks"].detail["count"] == by_hand(runbook_sql.VALIDATION_ORPHANED_FKS)[0][0] == 0
    assert checks["migration_failures"].detail["count"] == by_hand(runbook_sql.VALIDATION_MIGRATION_FAILURES)[0][0]
    assert checks["migration_failures"].passed is False
    results = dict(by_hand(runbook_sql.STEP6_BACKFILL_RESULTS))
    assert checks["backfill_results"].detail["fallback_true"] == results[True] == 2
    rls = dict(by_hand(runbook_sql.SECURITY_RLS_ENABLED))
    assert checks["rls_enabled"].detail["rowsecurity"] == rls == {"sales": True, "consignments": True, "returns": True}
    policies = by_hand(runbook_sql.SECURITY_POLICIES)
    assert sum(len(names) for names in checks["rls_policies"].detail["policies"].values()) == len(policies)
    fk = by_hand(runbook_sql.STEP4_FK_ON_DELETE_FIXED)
    assert [(r["constraint"], r["delete_rule"]) for r in checks["fk_delete_rule"].detail["rules"]["sales"]] == fk
    assert checks["fk_delete_rule"].passed
    indexes = [row[0] for row in by_hand(runbook_sql.STEP5_OPERATING_MODE_INDEX)]
    assert checks["indexes_present"].detail["operating_mode_indexes"] == indexes == ["idx_bars_operating_mode"]
    assert checks["indexes_present"].passed and checks["rls_enabled"].passed and checks["rls_policies"].passed
    assert run.passed is False


def test_each_line_stores_the_sql_it_ran(data):
    run = run_validation()
    checks = {check.key: check for check in run.checks.all()}
    assert checks["server_id_population"].sql == runbook_sql.VALIDATION_SERVER_ID_POPULATION.strip()
    assert checks["orphaned_fks"].sql == runbook_sql.VALIDATION_ORPHANED_FKS.strip()
    assert checks["operating_mode_index_scan"].sql.startswith("EXPLAIN (FORMAT JSON)")
    assert "ANALYZE" not in checks["operating_mode_index_scan"].sql.split("\n")[0]
    assert all(check.sql for check in checks.values())


def test_the_index_check_reads_the_plan_as_json(data):
    check = run_validation().checks.get(key="operating_mode_index_scan")
    assert check.detail["node_types"] and check.passed
    assert check.detail.get("index_usable_when_forced") or check.detail["uses_index"]


def test_population_passes_above_95_percent(bar):
    server = ServerFactory(username="s96")
    for _ in range(96):
        SaleFactory(bar=bar, server=server)
    for _ in range(4):
        SaleFactory(bar=bar)
    assert run_validation().checks.get(key="server_id_population").passed


def test_a_missing_policy_fails_its_line_and_the_run(data):
    with connection.cursor() as cursor:
        cursor.execute("DROP POLICY returns_delete_bar_manager ON returns")
    run = run_validation()
    line = run.checks.get(key="rls_policies")
    assert not line.passed and line.detail["missing"] == {"returns": ["DELETE"]}
    assert not run.passed


def test_the_fk_rule_is_checked_on_all_three_tables():
    assert "tc.table_name='returns'" in fk_on_delete_sql("returns")


def test_a_product_owner_runs_it_in_one_click_and_the_result_is_stored(data, product_user, client_for):
    client = client_for(product_user)
    response = client.post(reverse("backfill:validation_run"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    run = ValidationRun.objects.get()
    assert run.run_by == product_user
    html = response.content.decode()
    assert "FAIL" in html and "SELECT" in html
    assert PanelEvent.objects.filter(action="validation.run").exists()
    page = client.get(reverse("backfill:validation")).content.decode()
    assert "check-server_id_population" in page
    assert client.get(reverse("backfill:validation_detail", args=[run.pk])).status_code == 200


def test_support_reads_results_but_cannot_run_a_validation(data, support_user, client_for):
    run_validation()
    client = client_for(support_user)
    assert client.get(reverse("backfill:validation")).status_code == 200
    assert client.post(reverse("backfill:validation_run")).status_code == 403
    assert ValidationRun.objects.count() == 1


def test_bar_managers_see_no_validation(data, manager, client_for):
    client = client_for(manager)
    assert client.get(reverse("backfill:validation")).status_code == 403
    assert client.post(reverse("backfill:validation_run")).status_code == 403
    assert ValidationRun.objects.count() == 0
