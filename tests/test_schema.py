"""The runbook's section 2.1 verification queries, the FK rule of step 4 and the index of step 5."""

import json

import pytest
from django.db import DatabaseError, connection, transaction

from adminpanel import runbook_sql
from adminpanel.models import Bar, BarMember, MemberRole, Sale
from tests.factories import BarFactory, SaleFactory, ServerFactory

pytestmark = pytest.mark.django_db


def _rows(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_step1_sales_has_a_server_id_column():
    assert _rows(runbook_sql.STEP1_SERVER_ID_COLUMN) == [("server_id",)]


def test_step1_consignments_and_returns_have_server_id_too():
    rows = _rows(
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'server_id' "
        "AND table_name IN ('sales', 'consignments', 'returns') ORDER BY table_name"
    )
    assert rows == [("consignments",), ("returns",), ("sales",)]


def test_step2_server_name_mappings_starts_empty():
    assert _rows(runbook_sql.STEP2_MAPPINGS_TABLE) == [(0,)]


def test_step3_a_simplified_policy_exists_on_sales():
    assert _rows(runbook_sql.STEP3_SIMPLIFIED_POLICY)[0][0] >= 1


def test_step4_query_as_printed_cannot_run_and_its_correction_finds_set_null():
    with pytest.raises(DatabaseError, match="column"), transaction.atomic():
        _rows(runbook_sql.STEP4_FK_ON_DELETE)
    assert _rows(runbook_sql.STEP4_FK_ON_DELETE_FIXED) == [("sales_server_id_fkey", "SET NULL")]


def test_step4_rule_covers_consignments_and_returns():
    rows = _rows(
        "SELECT tc.table_name, rc.delete_rule FROM information_schema.referential_constraints rc "
        "JOIN information_schema.table_constraints tc USING (constraint_schema, constraint_name) "
        "WHERE rc.constraint_name LIKE '%server_id%' AND tc.table_name IN ('sales', 'consignments', 'returns') "
        "ORDER BY tc.table_name"
    )
    assert rows == [("consignments", "SET NULL"), ("returns", "SET NULL"), ("sales", "SET NULL")]


def test_step5_operating_mode_index_exists():
    assert _rows(runbook_sql.STEP5_OPERATING_MODE_INDEX) == [("idx_bars_operating_mode",)]


def test_step6_backfill_log_queries_run_on_the_empty_log():
    assert _rows(runbook_sql.STEP6_BACKFILL_RESULTS) == []
    assert _rows(runbook_sql.STEP6_RECENT_FALLBACKS) == []


def test_validation_queries_run_unchanged_against_auth_users():
    SaleFactory(server=ServerFactory())
    SaleFactory()
    assert _rows(runbook_sql.VALIDATION_SERVER_ID_POPULATION) == [(2, 1, 1)]
    assert _rows(runbook_sql.VALIDATION_ORPHANED_FKS) == [(0,)]
    assert _rows(runbook_sql.VALIDATION_MIGRATION_FAILURES) == [(0,)]


def test_deleting_a_user_in_sql_keeps_the_sale_and_empties_server_id():
    server = ServerFactory()
    sale = SaleFactory(server=server)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM auth.users WHERE id = %s", [server.pk])
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # surface any deferred FK violation now
    sale.refresh_from_db()
    assert sale.server_id is None
    assert Sale.objects.filter(pk=sale.pk).exists()


def test_deleting_a_member_through_the_orm_keeps_their_sales():
    bar = BarFactory()
    server = ServerFactory()
    BarMember.objects.create(bar=bar, user=server, role=MemberRole.SERVER)
    sale = SaleFactory(bar=bar, server=server, created_by=server)
    server.delete()
    sale.refresh_from_db()
    assert (sale.server_id, sale.created_by_id) == (None, None)
    assert not BarMember.objects.filter(bar=bar).exists()


def _index_names(plan) -> set[str]:
    found = set()
    if isinstance(plan, dict):
        if "Index Name" in plan:
            found.add(plan["Index Name"])
        for value in plan.values():
            found |= _index_names(value)
    elif isinstance(plan, list):
        for item in plan:
            found |= _index_names(item)
    return found


def test_the_planner_chooses_the_operating_mode_index_for_the_runbook_query():
    Bar.objects.bulk_create(
        Bar(name=f"bar {i}", settings={"operatingMode": "simplified"} if i % 100 == 0 else {}) for i in range(5000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE bars")
        cursor.execute("EXPLAIN (FORMAT JSON) " + runbook_sql.VALIDATION_OPERATING_MODE_QUERY)
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    assert "idx_bars_operating_mode" in _index_names(plan)


def test_the_runbook_server_id_query_uses_an_index():
    SaleFactory.create_batch(3)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN (FORMAT JSON) " + runbook_sql.HEALTH_SERVER_ID_INDEX, [str(ServerFactory().pk)])
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    assert any("server_id" in name for name in _index_names(plan))
