"""Row Level Security costs one evaluation per statement, not one per row: read from the plans a client gets.

Each client query of bench/rls.py, and an UPDATE and a DELETE on each table, is explained (EXPLAIN (FORMAT JSON),
never run) as Supabase's `authenticated` role with the user's JWT claims. A policy function call (or `auth.uid()`,
which PostgreSQL inlines into current_setting()) or a SubPlan in a condition a plan node evaluates for each row fails
the test; InitPlans, evaluated once per statement, are what the policies should use. The same check must fail under
policies written the naive way (swapped in inside the test's transaction), so it can fail.
"""

import json
import re

import pytest
from django.db import connection

from adminpanel.models import MemberRole
from bench.rls import CLIENT_QUERIES
from tests.factories import BarFactory, BarMemberFactory, SaleFactory, ServerFactory
from tests.test_rls import TABLES, acting_as

pytestmark = pytest.mark.django_db

# What a node evaluates for every row it reads; an Index Cond's values are computed once per scan.
PER_ROW_CONDITIONS = ("Filter", "Join Filter", "Recheck Cond")
# A policy helper (app_*), auth.uid() inlined into current_setting(), or a sub-select run per row.
POLICY_WORK = re.compile(r"\bapp_\w+\(|\bcurrent_setting\(|SubPlan")

WRITES = (
    "UPDATE {t} SET amount = amount WHERE bar_id = %(bar)s",
    "DELETE FROM {t} WHERE bar_id = %(bar)s AND created_at < now() - interval '1 year'",
)


def per_row_policy_work(plan: dict) -> list[str]:
    """Per-row conditions of `plan` and its children that call a policy function or a SubPlan, as
    "<node> <condition>: <expression>". InitPlans run once per statement and are not looked into."""
    found = [
        f"{plan['Node Type']} {key}: {plan[key]}" for key in PER_ROW_CONDITIONS if POLICY_WORK.search(plan.get(key, ""))
    ]
    for child in plan.get("Plans", []):
        if child.get("Parent Relationship") != "InitPlan":
            found += per_row_policy_work(child)
    return found


def init_plans(plan: dict) -> int:
    """How many InitPlans `plan` has: policies computed once per statement show up as these."""
    return sum((child.get("Parent Relationship") == "InitPlan") + init_plans(child) for child in plan.get("Plans", []))


@pytest.fixture
def explain(db):
    """EXPLAIN (FORMAT JSON) of a client statement as a server or a manager of a simplified-mode bar with sales."""
    bar = BarFactory(settings={"operatingMode": "simplified"})
    people = {"server": ServerFactory(), "manager": ServerFactory()}
    BarMemberFactory(bar=bar, user=people["server"], role=MemberRole.SERVER)
    BarMemberFactory(bar=bar, user=people["manager"], role=MemberRole.MANAGER)
    SaleFactory.create_batch(3, bar=bar, server=people["server"], created_by=people["manager"])

    def plan_of(sql: str, *, as_role: str) -> dict:
        user = people[as_role]
        params = {"user": user.pk, "bar": bar.pk, "server": people["server"].pk}
        with acting_as(user) as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            return cursor.fetchone()[0][0]["Plan"]

    return plan_of


@pytest.mark.parametrize("query", CLIENT_QUERIES, ids=lambda q: q.name)
def test_no_policy_function_runs_per_row_in_a_client_query(explain, query):
    plan = explain(query.sql, as_role=query.role)
    assert per_row_policy_work(plan) == []
    assert init_plans(plan) >= 1, "the policy's values should be InitPlans (is RLS applied at all?)"


@pytest.mark.parametrize("table", TABLES)
@pytest.mark.parametrize("write", WRITES, ids=["update", "delete"])
def test_no_policy_function_runs_per_row_in_a_managers_update_or_delete(explain, table, write):
    plan = explain(write.format(t=table), as_role="manager")
    assert per_row_policy_work(plan) == []
    assert init_plans(plan) >= 1


def naive_policies():
    """The select policies written the naive way, until the surrounding transaction ends: auth.uid() and the
    member lookup called for every row instead of once per statement."""
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(
                f"ALTER POLICY {table}_select_own_or_bar_manager ON {table} USING (server_id = auth.uid() "
                "OR bar_id = ANY (app_user_bar_ids(auth.uid(), ARRAY['owner', 'manager'])))"
            )
            cursor.execute(
                f"ALTER POLICY {table}_select_member_bars ON {table} "
                "USING (bar_id = ANY (app_user_bar_ids(auth.uid(), ARRAY['owner', 'manager', 'server'])))"
            )


@pytest.mark.parametrize("query", CLIENT_QUERIES, ids=lambda q: q.name)
def test_the_check_fails_under_naive_policies(explain, query):
    naive_policies()
    work = per_row_policy_work(explain(query.sql, as_role=query.role))
    assert work
    assert any("app_user_bar_ids(" in condition or "current_setting(" in condition for condition in work)


def test_a_subplan_in_a_filter_is_per_row_work_and_an_init_plan_is_not():
    init_plan = {"Node Type": "Seq Scan", "Parent Relationship": "InitPlan", "Filter": "(user_id = app_user())"}
    function_scan = {"Node Type": "Function Scan", "Parent Relationship": "SubPlan", "Function Name": "app_roster"}
    seq_scan = {"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Filter": "((server_id = $0) OR (SubPlan 2))"}
    plan = {"Node Type": "Aggregate", "Plans": [init_plan, {**seq_scan, "Plans": [function_scan]}]}
    assert per_row_policy_work(plan) == ["Seq Scan Filter: ((server_id = $0) OR (SubPlan 2))"]
    assert per_row_policy_work({**plan, "Plans": [init_plan, {**seq_scan, "Filter": "(server_id = $0)"}]}) == []


@pytest.mark.parametrize("policies", ["step 3", "naive"])
def test_an_index_serves_step_3s_select_policy_and_none_could_serve_the_naive_one(explain, policies):
    if policies == "naive":
        naive_policies()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = json.dumps(explain("SELECT count(*) FROM sales", as_role="server"))
    index_conditions = re.findall(r'"Index Cond": "([^"]*)"', plan)
    member_bars = [c for c in index_conditions if re.search(r"bar_id = ANY \(\$\d+\)", c)]
    if policies == "step 3":
        assert member_bars, index_conditions
    else:
        assert member_bars == []
