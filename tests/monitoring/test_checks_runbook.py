"""The runbook checks of issue 21 (monitoring/health/checks_runbook.py), each passing and failing on real data: Day 1
RLS enforcement as sampled users see it, consignments' and returns' coverage after the backfill, all sales have bar_id,
and the backfill log's failed fallbacks as an alert."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from adminpanel.models import Consignment, MemberRole, MigrationServerIdLog, Return, Sale
from monitoring.health import checks_runbook, health_checks, services
from monitoring.models import Alert
from tests.factories import BarFactory, ServerFactory, backfilled_history, flags_on, member

pytestmark = pytest.mark.django_db


def run(name):
    outcome = health_checks.run_check(health_checks.CHECKS_BY_NAME[name], now=timezone.now())
    assert outcome.status != "unknown", outcome.error
    return outcome


def sql(statement, params=None):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


# --- Day 1: RLS enforcement -----------------------------------------------------------------------------------


@pytest.fixture
def staffed_bars(db):
    """Two bars: in each, two servers with sales of their own and a manager; a sale of the other bar too."""
    bars = [BarFactory(), BarFactory()]
    for bar in bars:
        member(bar, ServerFactory(), role=MemberRole.MANAGER)
        for count in (3, 2):
            server = member(bar, ServerFactory())
            Sale.objects.bulk_create(Sale(bar=bar, server=server, amount=1) for _ in range(count))
        Sale.objects.create(bar=bar, amount=1)  # no server: only managers see it
    return bars


def test_rls_enforcement_passes_when_each_sees_exactly_their_own(staffed_bars):
    outcome = run("rls_enforcement")
    assert (outcome.status, outcome.value, outcome.detail["problems"]) == ("ok", 0, [])
    kinds = [person["kind"] for person in outcome.detail["people"]]
    assert kinds.count("server") == 3 and kinds.count("manager") == 2  # HEALTH_RLS_ENFORCEMENT_SAMPLE = 3
    for person in outcome.detail["people"]:
        assert person["sees"] == person["should_see"] > 0 and person["sees_not_theirs"] == 0
    assert {p["should_see"] for p in outcome.detail["people"] if p["kind"] == "manager"} == {6}


def test_a_widened_policy_lets_servers_see_others_sales_and_is_critical(staffed_bars):
    sql("CREATE POLICY sales_select_anything ON public.sales FOR SELECT TO authenticated USING (true)")
    outcome = run("rls_enforcement")
    assert outcome.status == "critical" and outcome.value == 3
    assert all("sales that are not their own sales" in problem for problem in outcome.detail["problems"])


def test_a_dropped_policy_hides_servers_own_sales_and_is_critical(staffed_bars):
    sql("DROP POLICY sales_select_own_or_bar_manager ON public.sales")
    outcome = run("rls_enforcement")
    assert outcome.status == "critical" and outcome.value == 5  # nobody sees what they should
    assert any("should see" in problem for problem in outcome.detail["problems"])


def sale_committed_during_the_check(monkeypatch, *, created_ago: timedelta):
    """Each probe as a client first sees a sale of that person's bar committed meanwhile (after the panel counted
    what they should see), dated `created_ago` before now: what a live till does while the check runs."""
    real = checks_runbook._seen

    def seen_after_a_sale(cursor, *, role, user_id, sql, params):
        bar = params["bars"][0]
        Sale.objects.create(bar_id=bar, server_id=user_id, amount=1, created_at=timezone.now() - created_ago)
        return real(cursor, role=role, user_id=user_id, sql=sql, params=params)

    monkeypatch.setattr(checks_runbook, "_seen", seen_after_a_sale)


def test_a_sale_made_while_the_check_runs_is_outside_its_window(staffed_bars, monkeypatch):
    sale_committed_during_the_check(monkeypatch, created_ago=timedelta(0))
    outcome = run("rls_enforcement")
    assert (outcome.status, outcome.detail["problems"]) == ("ok", [])


def test_a_late_commit_inside_the_window_is_no_breach_when_the_figure_moved(staffed_bars, monkeypatch):
    sale_committed_during_the_check(monkeypatch, created_ago=timedelta(minutes=5))
    outcome = run("rls_enforcement")
    assert (outcome.status, outcome.detail["problems"]) == ("ok", [])
    assert all(person["changed_meanwhile"] for person in outcome.detail["people"])
    assert all(person["sees"] == person["should_see"] + 1 for person in outcome.detail["people"])


def test_rls_enforcement_without_a_manager_to_sample_is_not_a_pass(db):
    bar = BarFactory()
    server = member(bar, ServerFactory())
    Sale.objects.create(bar=bar, server=server, amount=1)
    outcome = run("rls_enforcement")
    assert (outcome.status, outcome.value) == ("insufficient", None)
    assert outcome.detail["sample_text"] == "1 server and 0 managers sampled"


def test_a_broken_rls_enforcement_opens_a_critical_alert_on_the_first_run(staffed_bars):
    sql("CREATE POLICY sales_select_anything ON public.sales FOR SELECT TO authenticated USING (true)")
    services.run_health_checks()
    alert = Alert.objects.get(check_name="rls_enforcement")
    assert alert.severity == "critical" and alert.safeguard_tripped_at is not None


# --- Consignments and returns keep a coverage check ----------------------------------------------------------


def rows(model, bar, total, with_server, *, days_ago=0, minutes_ago=5):
    server = ServerFactory()
    at = timezone.now() - timedelta(days=days_ago, minutes=minutes_ago)
    model.objects.bulk_create(
        model(bar=bar, server=server if i < with_server else None, amount=1, created_at=at) for i in range(total)
    )


def test_consignments_and_returns_coverage_counts_the_backfilled_history(db):
    bar = BarFactory()
    rows(Consignment, bar, 100, 99, days_ago=2)
    rows(Return, bar, 100, 100, days_ago=2)
    backfilled_history()
    rows(Consignment, bar, 300, 0)  # made since, flags off: no server_id by design
    outcome = run("consignment_return_coverage")
    assert (outcome.status, outcome.value) == ("ok", 99.0)
    assert outcome.detail["tables"]["consignments"]["counted"] == 100
    assert outcome.detail["tables"]["consignments"]["all_rows"] == 400


def test_gaps_in_the_backfilled_history_are_a_warning_never_critical(db):
    bar = BarFactory()
    rows(Consignment, bar, 100, 86, days_ago=2)  # failed fallbacks of a finished backfill: data to fix
    rows(Return, bar, 100, 100, days_ago=2)
    backfilled_history()
    outcome = run("consignment_return_coverage")
    assert (outcome.status, outcome.value) == ("warning", 86.0)
    assert outcome.detail["tables"]["consignments"]["history"]["coverage_pct"] == 86.0


def test_consignments_without_server_in_a_switched_bar_are_critical(db):
    backfilled_history(at=timezone.now() - timedelta(days=1))
    bar = flags_on(BarFactory())
    rows(Return, bar, 100, 100)
    rows(Consignment, bar, 100, 90)
    outcome = run("consignment_return_coverage")
    assert (outcome.status, outcome.value) == ("critical", 90.0)
    rows(Consignment, bar, 100, 0)
    Consignment.objects.filter(bar=bar, server__isnull=True).update(server=ServerFactory())  # the backfill re-run
    assert run("consignment_return_coverage").value == 100.0


def test_consignments_and_returns_with_flags_off_and_no_history_judge_nothing(db):
    rows(Consignment, BarFactory(), 100, 0)
    outcome = run("consignment_return_coverage")
    assert (outcome.status, outcome.value) == ("insufficient", None)


# --- All sales have bar_id -----------------------------------------------------------------------------------


def test_all_sales_have_a_bar_guaranteed_by_not_null(db):
    outcome = run("sales_bar_id")
    assert (outcome.status, outcome.value) == ("ok", 0)
    assert outcome.detail["tables"]["sales"] == {"orphans": 0, "guaranteed_by": "NOT NULL"}


def test_a_sale_without_a_bar_is_critical(db):
    sql("ALTER TABLE public.sales ALTER COLUMN bar_id DROP NOT NULL")
    sql("INSERT INTO public.sales (bar_id, amount) VALUES (NULL, 1)")
    Sale.objects.create(bar=BarFactory(), amount=1)
    outcome = run("sales_bar_id")
    assert (outcome.status, outcome.value) == ("critical", 1)
    assert outcome.detail["tables"]["sales"] == {"orphans": 1, "guaranteed_by": None}


# --- The migration log's many failures ------------------------------------------------------------------------


def log(total, failed):
    sale_ids = [Sale.objects.create(bar=BarFactory(), amount=1).pk for _ in range(total)]
    MigrationServerIdLog.objects.bulk_create(
        MigrationServerIdLog(sale_id=sale_id, fallback_used=i < failed + 2,
                             fallback_reason="resolution failed" if i < failed else "first member")
        for i, sale_id in enumerate(sale_ids)
    )  # fmt: skip


def test_a_backfill_log_without_failed_fallbacks_is_ok(db):
    log(40, 0)
    assert (run("migration_failures").status, run("migration_failures").value) == ("ok", 0.0)


def test_many_failed_fallbacks_raise_a_warning_alert(db):
    log(40, 4)
    outcome = run("migration_failures")
    assert (outcome.status, outcome.value, outcome.detail["failed"]) == ("warning", 10.0, 4)
    services.run_health_checks()
    assert Alert.objects.get(check_name="migration_failures").severity == "warning"


def test_a_small_backfill_log_is_not_enough_data(db):
    log(10, 5)
    assert run("migration_failures").status == "insufficient"


def test_the_coverage_of_consignments_and_returns_is_said_apart_for_new_rows_and_history(db):
    from monitoring.health.check_presentation import present

    bar = BarFactory()
    rows(Consignment, bar, 100, 86, days_ago=2)
    backfilled_history()
    shown = present("consignment_return_coverage", run("consignment_return_coverage"))
    detail = dict(shown.detail_rows)
    tables = detail["Per table"]
    assert "consignments: written with the flags on — of 0, backfilled history 86 % of 100 (100 in all)" in tables
    assert "{" not in tables
    assert detail["History ends at (the last full backfill's start)"].endswith(" UTC")
