"""Row Level Security costs one evaluation per statement, not one per row: read from the plans a client gets.

Each client query of bench/rls.py, and an UPDATE and a DELETE on each table, is explained (EXPLAIN (FORMAT JSON),
never run) as a non-owner role with `app.user_id` set. A policy function call or a SubPlan in a condition a plan
node evaluates for each row fails the test; InitPlans, evaluated once per statement, are what the policies should
use. The same check must fail under step 3's policies (restored inside the test's transaction), so it can fail.
"""

import json
import re

import pytest
from django.db import connection

from adminpanel.models import MemberRole
from bench.rls import CLIENT_QUERIES
from tests.factories import BarFactory, BarMemberFactory, SaleFactory, ServerFactory
from tests.test_rls import RLS_0011, acting_as, make_client_role, restore_step3_policies

pytestmark = pytest.mark.django_db

# What a node evaluates for every row it reads; an Index Cond's values are computed once per scan.
PER_ROW_CONDITIONS = ("Filter", "Join Filter", "Recheck Cond")
# A policy helper (app_*), app_current_user_id() inlined into current_setting(), or a sub-select run per row.
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
    role = make_client_role()
    bar = BarFactory(settings={"operatingMode": "simplified"})
    people = {"server": ServerFactory(), "manager": ServerFactory()}
    BarMemberFactory(bar=bar, user=people["server"], role=MemberRole.SERVER)
    BarMemberFactory(bar=bar, user=people["manager"], role=MemberRole.MANAGER)
    SaleFactory.create_batch(3, bar=bar, server=people["server"], created_by=people["manager"])

    def plan_of(sql: str, *, as_role: str) -> dict:
        user = people[as_role]
        params = {"user": user.pk, "bar": bar.pk, "server": people["server"].pk}
        with acting_as(role, user) as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            return cursor.fetchone()[0][0]["Plan"]

    return plan_of


@pytest.mark.parametrize("query", CLIENT_QUERIES, ids=lambda q: q.name)
def test_no_policy_function_runs_per_row_in_a_client_query(explain, query):
    plan = explain(query.sql, as_role=query.role)
    assert per_row_policy_work(plan) == []
    assert init_plans(plan) >= 1, "the policy's values should be InitPlans (is RLS applied at all?)"


@pytest.mark.parametrize("table", RLS_0011.TABLES)
@pytest.mark.parametrize("write", WRITES, ids=["update", "delete"])
def test_no_policy_function_runs_per_row_in_a_managers_update_or_delete(explain, table, write):
    plan = explain(write.format(t=table), as_role="manager")
    assert per_row_policy_work(plan) == []
    assert init_plans(plan) >= 1


@pytest.mark.parametrize("query", CLIENT_QUERIES, ids=lambda q: q.name)
def test_the_check_fails_under_step_3s_policies(explain, query):
    restore_step3_policies()
    work = per_row_policy_work(explain(query.sql, as_role=query.role))
    assert work
    assert any("app_user_has_bar_role(" in condition for condition in work)


def test_a_subplan_in_a_filter_is_per_row_work_and_an_init_plan_is_not():
    init_plan = {"Node Type": "Seq Scan", "Parent Relationship": "InitPlan", "Filter": "(user_id = app_user())"}
    function_scan = {"Node Type": "Function Scan", "Parent Relationship": "SubPlan", "Function Name": "app_roster"}
    seq_scan = {"Node Type": "Seq Scan", "Parent Relationship": "Outer", "Filter": "((server_id = $0) OR (SubPlan 2))"}
    plan = {"Node Type": "Aggregate", "Plans": [init_plan, {**seq_scan, "Plans": [function_scan]}]}
    assert per_row_policy_work(plan) == ["Seq Scan Filter: ((server_id = $0) OR (SubPlan 2))"]
    assert per_row_policy_work({**plan, "Plans": [init_plan, {**seq_scan, "Filter": "(server_id = $0)"}]}) == []


@pytest.mark.parametrize("policies", ["0011", "step 3"])
def test_an_index_can_serve_the_select_policy_of_0010_and_none_could_serve_step_3s(explain, policies):
    if policies == "step 3":
        restore_step3_policies()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = json.dumps(explain("SELECT count(*) FROM sales", as_role="server"))
    index_conditions = re.findall(r'"Index Cond": "([^"]*)"', plan)
    if policies == "0011":
        assert any(re.fullmatch(r"\(server_id = \$\d+\)", c) for c in index_conditions), index_conditions
        assert any(re.fullmatch(r"\(bar_id = ANY \(\$\d+\)\)", c) for c in index_conditions), index_conditions
    else:
        assert index_conditions == []
