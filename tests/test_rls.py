"""Row Level Security on sales / consignments / returns, seen from a non-owner client role."""

import uuid
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection, transaction

from adminpanel import runbook_sql
from adminpanel.models import MemberRole, Sale
from tests.factories import BarFactory, BarMemberFactory, ConsignmentFactory, SaleFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def client_role(db):
    """A NOLOGIN role like BarTender's client role: table grants, but neither owner nor superuser."""
    role = f"bt_client_{uuid.uuid4().hex[:10]}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS")
        cursor.execute(f"GRANT {role} TO CURRENT_USER")
        cursor.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON sales, consignments, returns TO {role}")
        cursor.execute(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}")
        # Clients may read memberships (the runbook's day-1 RLS check joins them).
        cursor.execute(f"GRANT SELECT ON bar_members TO {role}")
    return role


@pytest.fixture
def as_app_user(client_role):
    @contextmanager
    def connect(user):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET ROLE {client_role}")
            cursor.execute("SELECT set_config('app.user_id', %s, false)", [str(user.pk) if user else ""])
            yield cursor
            # On an error the savepoint's rollback undoes both settings; on success, undo them here.
            cursor.execute("RESET ROLE")
            cursor.execute("SELECT set_config('app.user_id', '', false)")

    return connect


@pytest.fixture
def world():
    bar = BarFactory(name="Simplified bar", settings={"operatingMode": "simplified"})
    full_bar = BarFactory(name="Full bar", settings={"operatingMode": "full"})
    people = {name: UserFactory(username=name) for name in ("aicha", "moussa", "boss", "stranger")}
    BarMemberFactory(bar=bar, user=people["aicha"], role=MemberRole.SERVER)
    BarMemberFactory(bar=bar, user=people["moussa"], role=MemberRole.SERVER)
    BarMemberFactory(bar=bar, user=people["boss"], role=MemberRole.MANAGER)
    BarMemberFactory(bar=full_bar, user=people["boss"], role=MemberRole.MANAGER)
    BarMemberFactory(bar=full_bar, user=people["stranger"], role=MemberRole.SERVER)
    for server in ("aicha", "aicha", "moussa"):
        SaleFactory(bar=bar, server=people[server], created_by=people["boss"])
    SaleFactory(bar=full_bar, server=people["stranger"], created_by=people["stranger"])
    ConsignmentFactory(bar=bar, server=people["moussa"], created_by=people["boss"])
    return {"bar": bar, "full_bar": full_bar, **people}


def _insert_sale(cursor, *, bar, server, created_by):
    cursor.execute(
        "INSERT INTO sales (bar_id, server_id, created_by_id, amount, created_at) VALUES (%s, %s, %s, 1000, now())",
        [bar.pk, server.pk if server else None, created_by.pk],
    )


def test_a_server_sees_only_the_sales_they_served(world, as_app_user):
    with as_app_user(world["aicha"]) as cursor:
        cursor.execute("SELECT server_id FROM sales")
        rows = cursor.fetchall()
    assert len(rows) == 2
    assert {row[0] for row in rows} == {world["aicha"].pk}


def test_a_manager_sees_every_sale_of_their_bars_and_no_other(world, as_app_user):
    other = BarFactory()
    SaleFactory(bar=other)
    with as_app_user(world["boss"]) as cursor:
        cursor.execute("SELECT count(*) FROM sales")
        assert cursor.fetchone()[0] == 4
        cursor.execute("SELECT count(*) FROM sales WHERE bar_id = %s", [other.pk])
        assert cursor.fetchone()[0] == 0


def test_consignments_are_held_to_the_same_policy(world, as_app_user):
    with as_app_user(world["aicha"]) as cursor:
        cursor.execute("SELECT count(*) FROM consignments")
        assert cursor.fetchone()[0] == 0
    with as_app_user(world["moussa"]) as cursor:
        cursor.execute("SELECT count(*) FROM consignments")
        assert cursor.fetchone()[0] == 1


def test_without_an_app_user_nothing_is_visible(world, as_app_user):
    with as_app_user(None) as cursor:
        cursor.execute("SELECT count(*) FROM sales")
        assert cursor.fetchone()[0] == 0


def test_the_runbook_day1_rls_check_finds_nothing_for_a_server(world, as_app_user):
    me = str(world["aicha"].pk)
    with as_app_user(world["aicha"]) as cursor:
        cursor.execute(
            "SELECT COUNT(*) FROM sales WHERE server_id != %s "
            "AND %s IN (SELECT user_id FROM bar_members WHERE bar_id = sales.bar_id)",
            [me, me],
        )
        assert cursor.fetchone()[0] == 0


def test_a_server_cannot_record_a_sale_in_another_bar(world, as_app_user):
    before = Sale.objects.count()
    with pytest.raises(DatabaseError, match="row-level security"), as_app_user(world["aicha"]) as cursor:
        _insert_sale(cursor, bar=world["full_bar"], server=world["aicha"], created_by=world["aicha"])
    assert Sale.objects.count() == before


def test_a_server_records_their_own_sale_but_not_one_for_a_colleague(world, as_app_user):
    with as_app_user(world["aicha"]) as cursor:
        _insert_sale(cursor, bar=world["bar"], server=world["aicha"], created_by=world["aicha"])
    assert Sale.objects.filter(server=world["aicha"]).count() == 3
    with pytest.raises(DatabaseError, match="row-level security"), as_app_user(world["aicha"]) as cursor:
        _insert_sale(cursor, bar=world["bar"], server=world["moussa"], created_by=world["aicha"])
    assert Sale.objects.filter(server=world["moussa"]).count() == 1


def test_a_manager_records_sales_for_a_server_only_in_simplified_mode(world, as_app_user):
    with as_app_user(world["boss"]) as cursor:
        _insert_sale(cursor, bar=world["bar"], server=world["moussa"], created_by=world["boss"])
    assert Sale.objects.filter(bar=world["bar"], server=world["moussa"]).count() == 2
    with pytest.raises(DatabaseError, match="row-level security"), as_app_user(world["boss"]) as cursor:
        _insert_sale(cursor, bar=world["full_bar"], server=world["stranger"], created_by=world["boss"])
    assert Sale.objects.filter(bar=world["full_bar"]).count() == 1


def test_a_manager_cannot_attribute_a_sale_to_someone_outside_the_bar(world, as_app_user):
    with pytest.raises(DatabaseError, match="row-level security"), as_app_user(world["boss"]) as cursor:
        _insert_sale(cursor, bar=world["bar"], server=world["stranger"], created_by=world["boss"])
    assert not Sale.objects.filter(server=world["stranger"], bar=world["bar"]).exists()


def test_a_server_cannot_delete_sales_but_their_manager_can(world, as_app_user):
    with as_app_user(world["aicha"]) as cursor:
        cursor.execute("DELETE FROM sales")
        assert cursor.rowcount == 0
    with as_app_user(world["boss"]) as cursor:
        cursor.execute("DELETE FROM sales WHERE server_id = %s", [world["moussa"].pk])
        assert cursor.rowcount == 1


def test_the_panel_connects_as_owner_and_sees_everything(world):
    assert Sale.objects.count() == 4


def test_rls_is_enabled_with_policies_for_each_operation_on_the_three_tables(db):
    with connection.cursor() as cursor:
        cursor.execute(runbook_sql.SECURITY_RLS_ENABLED)
        assert dict(cursor.fetchall()) == {"sales": True, "consignments": True, "returns": True}
        cursor.execute(
            "SELECT tablename, array_agg(DISTINCT cmd ORDER BY cmd) FROM pg_policies "
            "WHERE tablename IN ('sales', 'consignments', 'returns') GROUP BY tablename"
        )
        commands = {table: set(cmds) for table, cmds in cursor.fetchall()}
    assert commands == {t: {"SELECT", "INSERT", "UPDATE", "DELETE"} for t in ("sales", "consignments", "returns")}
