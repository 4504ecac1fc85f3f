"""Row Level Security on sales / consignments / returns, seen as BarTender's clients meet it: Supabase's
`authenticated` role with the user's JWT claims (`request.jwt.claims`, read by `auth.uid()`), transaction-local as
PostgREST sets them. The policies are the stand-in's and runbook step 3's (bartender/supabase/migrations/)."""

import json
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connection, transaction

from adminpanel import runbook_sql
from adminpanel.models import MemberRole, Sale
from tests.factories import (
    BarFactory,
    BarMemberFactory,
    ConsignmentFactory,
    ReturnFactory,
    SaleFactory,
    ServerFactory,
)

pytestmark = pytest.mark.django_db

TABLES = ("sales", "consignments", "returns")


@contextmanager
def acting_as(user, role: str = "authenticated"):
    """A cursor as `role` with the JWT claims of `user` (None: signed out), inside a savepoint; both settings are
    transaction-local and undone when the block ends."""
    claims = json.dumps({"sub": str(user.pk), "role": role}) if user else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)", [role, claims]
        )
        yield cursor
        cursor.execute("SELECT set_config('role', 'none', true), set_config('request.jwt.claims', '', true)")


@pytest.fixture
def as_app_user(db):
    return acting_as


@pytest.fixture
def world():
    bar = BarFactory(name="Simplified bar", settings={"operatingMode": "simplified"})
    full_bar = BarFactory(name="Full bar", settings={"operatingMode": "full"})
    people = {name: ServerFactory(username=name) for name in ("aicha", "moussa", "boss", "stranger")}
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
        "INSERT INTO sales (bar_id, server_id, created_by, amount, created_at) VALUES (%s, %s, %s, 1000, now())",
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


def test_returns_are_held_to_the_same_policy(world, as_app_user):
    ReturnFactory(bar=world["bar"], server=world["aicha"], created_by=world["boss"])
    with as_app_user(world["aicha"]) as cursor:
        cursor.execute("SELECT count(*) FROM returns")
        assert cursor.fetchone()[0] == 1
    with as_app_user(world["moussa"]) as cursor:
        cursor.execute("SELECT count(*) FROM returns")
        assert cursor.fetchone()[0] == 0
    with as_app_user(world["boss"]) as cursor:
        cursor.execute("SELECT count(*) FROM returns")
        assert cursor.fetchone()[0] == 1


def test_an_owner_sees_and_deletes_their_bars_sales_like_a_manager(world, as_app_user):
    owner = ServerFactory(username="owner")
    BarMemberFactory(bar=world["full_bar"], user=owner, role=MemberRole.OWNER)
    with as_app_user(owner) as cursor:
        cursor.execute("SELECT count(*) FROM sales")
        assert cursor.fetchone()[0] == 1
        cursor.execute("DELETE FROM sales")
        assert cursor.rowcount == 1
    assert not Sale.objects.filter(bar=world["full_bar"]).exists()


def test_a_manager_updates_their_bars_sales_and_a_server_updates_none(world, as_app_user):
    with as_app_user(world["aicha"]) as cursor:
        cursor.execute("UPDATE sales SET amount = 1")
        assert cursor.rowcount == 0
    with as_app_user(world["boss"]) as cursor:
        cursor.execute("UPDATE sales SET amount = 1 WHERE bar_id = %s", [world["bar"].pk])
        assert cursor.rowcount == 3
    assert Sale.objects.filter(amount=1).count() == 3


def test_a_manager_cannot_move_a_sale_to_a_bar_they_do_not_run(world, as_app_user):
    other = BarFactory()
    with pytest.raises(DatabaseError, match="row-level security"), as_app_user(world["boss"]) as cursor:
        cursor.execute("UPDATE sales SET bar_id = %s WHERE bar_id = %s", [other.pk, world["bar"].pk])
    assert Sale.objects.filter(bar=world["bar"]).count() == 3


def test_a_manager_of_two_simplified_bars_records_a_server_only_in_the_servers_own_bar(world, as_app_user):
    second = BarFactory(name="Second simplified bar", settings={"operatingMode": "simplified"})
    awa = ServerFactory(username="awa")
    BarMemberFactory(bar=second, user=world["boss"], role=MemberRole.MANAGER)
    BarMemberFactory(bar=second, user=awa, role=MemberRole.SERVER)
    with pytest.raises(DatabaseError, match="row-level security"), as_app_user(world["boss"]) as cursor:
        _insert_sale(cursor, bar=world["bar"], server=awa, created_by=world["boss"])
    with as_app_user(world["boss"]) as cursor:
        _insert_sale(cursor, bar=second, server=awa, created_by=world["boss"])
    assert list(Sale.objects.filter(server=awa).values_list("bar", flat=True)) == [second.pk]


def test_an_inactive_membership_grants_nothing(world, as_app_user):
    world["bar"].members.filter(user=world["moussa"]).update(is_active=False)
    with pytest.raises(DatabaseError, match="row-level security"), as_app_user(world["boss"]) as cursor:
        _insert_sale(cursor, bar=world["bar"], server=world["moussa"], created_by=world["boss"])
    world["bar"].members.filter(user=world["boss"]).update(is_active=False)
    with as_app_user(world["boss"]) as cursor:
        cursor.execute("SELECT count(*) FROM sales WHERE bar_id = %s", [world["bar"].pk])
        assert cursor.fetchone()[0] == 0


def test_without_an_app_user_nothing_can_be_recorded(world, as_app_user):
    with pytest.raises(DatabaseError, match="row-level security"), as_app_user(None) as cursor:
        _insert_sale(cursor, bar=world["bar"], server=None, created_by=world["boss"])
    assert Sale.objects.count() == 4


def test_the_unfiltered_latest_20_shows_a_server_only_their_own_sales_in_bars_they_belong_to(world, as_app_user):
    """The client shape no filter narrows (`ORDER BY created_at DESC LIMIT 20`): a server gets their own sales of
    their bars; once they left the bar (membership inactive) they see none of its sales, their own included."""
    other = BarFactory(name="Another bar")
    BarMemberFactory(bar=other, user=world["aicha"], role=MemberRole.SERVER)
    SaleFactory(bar=other, server=world["moussa"], created_by=world["moussa"])
    SaleFactory(bar=other, server=world["aicha"], created_by=world["aicha"])
    latest = "SELECT bar_id, server_id FROM sales ORDER BY created_at DESC LIMIT 20"
    with as_app_user(world["aicha"]) as cursor:
        cursor.execute(latest)
        rows = cursor.fetchall()
    assert len(rows) == 3 and {server for _, server in rows} == {world["aicha"].pk}
    world["bar"].members.filter(user=world["aicha"]).update(is_active=False)
    with as_app_user(world["aicha"]) as cursor:
        cursor.execute(latest)
        assert cursor.fetchall() == [(other.pk, world["aicha"].pk)]


def test_a_manager_who_left_sees_nothing_of_the_bar_and_the_claims_end_with_the_block(world, as_app_user):
    with as_app_user(world["boss"]) as cursor:
        cursor.execute("SELECT count(*) FROM sales WHERE bar_id = %s", [world["bar"].pk])
        assert cursor.fetchone()[0] == 3
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user = session_user, current_setting('request.jwt.claims', true)")
        assert cursor.fetchone() in {(True, None), (True, "")}
