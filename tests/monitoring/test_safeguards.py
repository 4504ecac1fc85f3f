"""Issue 13 in monitoring: rate checks judge only a large enough sample ("not enough data (3 sales)"), and an
alert counts toward automatic action only after the check's consecutive failing runs ("2 of 2 failing runs")."""

from datetime import timedelta

import pytest
from django.utils import timezone

from adminpanel.models import AuditLog, MigrationServerIdLog
from monitoring.health import health_checks, services
from monitoring.models import Alert, AlertEvent, CheckResult
from rollout.killswitch import critical_alerts
from tests.factories import BarFactory

pytestmark = pytest.mark.django_db


def run(name):
    return health_checks.run_check(health_checks.CHECKS_BY_NAME[name], now=timezone.now())


def errors(count, **fields):
    at = timezone.now() - timedelta(minutes=1)
    AuditLog.objects.bulk_create(AuditLog(created_at=at, **{"level": "error", **fields}) for _ in range(count))


@pytest.fixture
def announced(monkeypatch):
    """The alerts announced for automatic action (what the rollout's kill switch would receive)."""
    calls = []
    monkeypatch.setattr(critical_alerts, "on_critical_alert_opened", lambda *, alert: calls.append(alert.check_name))
    return calls


# --- Minimum samples ------------------------------------------------------------------------------------------


def test_one_error_among_three_sales_is_not_enough_data_and_opens_no_alert(make_sales, quick_notifications):
    make_sales(3, 3)
    errors(1, error_type="crash")
    outcome = run("error_logs")
    assert outcome.status == "insufficient" and outcome.value is None
    assert outcome.detail["sample_text"] == "3 sales, 1 error"
    assert outcome.detail["error_rate_pct"] is None
    run_ = services.run_health_checks()
    assert run_.results.get(check_name="error_logs").status == "insufficient"
    assert not Alert.objects.filter(check_name="error_logs").exists()


@pytest.mark.parametrize(("sales", "status"), [(97, "insufficient"), (98, "critical")])
def test_error_rate_is_judged_from_100_operations(make_sales, sales, status):
    make_sales(sales, sales)
    errors(2, error_type="crash")  # 2 errors: 2 % of 100 operations, more of fewer
    assert run("error_logs").status == status


@pytest.mark.parametrize(("sales", "status"), [(99, "insufficient"), (100, "critical")])
def test_coverage_is_judged_from_100_sales(make_sales, sales, status):
    make_sales(sales, 0)
    outcome = run("server_id_coverage")
    assert outcome.status == status
    assert outcome.detail["needed_text"] == "100 sales"


@pytest.mark.parametrize(("resolved", "status"), [(17, "insufficient"), (18, "critical")])
def test_resolution_error_rate_is_judged_from_20_attempts(make_sales, resolved, status):
    make_sales(resolved, resolved, bar=BarFactory(settings={"operatingMode": "simplified"}))
    errors(2, error_type="server_id_resolution")  # 2 of 20 attempts: 10 %
    assert run("resolution_error_rate").status == status


@pytest.mark.parametrize(("rows", "status"), [(19, "insufficient"), (20, "warning")])
def test_fallback_share_is_judged_from_20_backfilled_sales(db, rows, status):
    MigrationServerIdLog.objects.bulk_create(
        MigrationServerIdLog(sale_id=i, fallback_used=True, fallback_reason="no mapping") for i in range(rows)
    )
    assert run("fallback_mappings").status == status


def test_adoption_without_any_bar_is_not_enough_data(db, settings):
    settings.HEALTH_ADOPTION_EXPECTED_PCT = 50
    assert run("adoption_rate").detail["sample_text"] == "0 bars"
    assert run("adoption_rate").status == "insufficient"
    BarFactory()
    assert run("adoption_rate").status == "warning"


def test_each_minimum_comes_from_settings(make_sales, settings):
    make_sales(3, 0)
    assert run("server_id_coverage").status == "insufficient"
    settings.HEALTH_MIN_SAMPLES = {**settings.HEALTH_MIN_SAMPLES, "server_id_coverage": 3}
    assert run("server_id_coverage").status == "critical"


def test_not_enough_data_leaves_an_open_alert_as_it_is_and_the_run_ok(make_sales, quick_notifications):
    bar = make_sales(100, 90)
    services.run_health_checks()
    alert = Alert.objects.get(check_name="server_id_coverage")
    from adminpanel.models import Sale

    Sale.objects.filter(bar=bar).delete()
    make_sales(3, 3)
    second = services.run_health_checks()
    alert.refresh_from_db()
    assert alert.state == "open" and alert.last_result.status == "insufficient"
    assert health_checks.worst(["insufficient", "ok"]) == "ok"
    assert second.results.get(check_name="server_id_coverage").failing_streak == 0


# --- Consecutive failing runs ---------------------------------------------------------------------------------


def result(status, failing=0, critical=0):
    return CheckResult(status=status, failing_streak=failing, critical_streak=critical)


@pytest.mark.parametrize(
    ("status", "previous", "expected"),
    [
        ("critical", None, (1, 1)),
        ("critical", result("critical", 1, 1), (2, 2)),
        ("critical", result("warning", 1, 0), (2, 1)),
        ("warning", result("critical", 2, 2), (3, 0)),
        ("unknown", result("critical", 2, 2), (2, 2)),
        ("ok", result("critical", 2, 2), (0, 0)),
        ("insufficient", result("critical", 2, 2), (0, 0)),
    ],
)
def test_streaks_count_failures_in_a_row_unknown_carries_and_a_pass_clears(status, previous, expected):
    assert services.streaks(status=status, previous=previous) == expected


class Script:
    """Replace the suite with one check whose next statuses are scripted."""

    def __init__(self, monkeypatch, name, statuses):
        self.statuses = list(statuses)
        self.name = name
        check = health_checks.Check(name, name, self.outcome)
        monkeypatch.setattr(health_checks, "CHECKS", (check,))

    def outcome(self, *, now):
        return health_checks.CheckOutcome(name=self.name, status=self.statuses.pop(0), value=1.0)

    def run_all(self):
        while self.statuses:
            services.run_health_checks()


def test_a_single_critical_db_connections_run_is_a_blip_that_never_reaches_automatic_action(
    monkeypatch, announced, quick_notifications
):
    Script(monkeypatch, "db_connections", ["critical", "ok", "critical", "ok"]).run_all()
    assert announced == []
    assert Alert.objects.filter(check_name="db_connections").count() == 2  # both were seen and alerted on
    assert not Alert.objects.filter(safeguard_tripped_at__isnull=False).exists()


def test_two_critical_runs_in_a_row_trip_a_check_that_needs_two(monkeypatch, announced, quick_notifications):
    script = Script(monkeypatch, "db_connections", ["critical", "critical", "critical"])
    services.run_health_checks()
    alert = Alert.objects.get()
    assert announced == [] and alert.streak_text == "1 of 2 failing runs"
    services.run_health_checks()
    alert.refresh_from_db()
    assert announced == ["db_connections"] and alert.streak_text == "2 of 2 failing runs"
    assert alert.safeguard_tripped_at is not None
    assert AlertEvent.objects.filter(alert=alert, kind="safeguard").count() == 1
    script.run_all()
    assert announced == ["db_connections"]  # announced once per alert


def test_a_runbook_critical_check_trips_on_its_first_critical_run(monkeypatch, announced, quick_notifications):
    Script(monkeypatch, "orphaned_sales", ["critical"]).run_all()
    assert announced == ["orphaned_sales"]
    assert Alert.objects.get().streak_text == "1 of 1 failing run"


def test_an_unknown_run_between_two_critical_runs_neither_clears_nor_counts(
    monkeypatch, announced, quick_notifications
):
    script = Script(monkeypatch, "db_connections", ["critical", "unknown"])
    script.run_all()
    assert announced == []
    script.statuses.append("critical")
    script.run_all()
    assert announced == ["db_connections"]


def test_a_warning_never_trips_a_safeguard(monkeypatch, announced, quick_notifications):
    Script(monkeypatch, "server_id_coverage", ["warning"] * 4).run_all()
    assert announced == [] and Alert.objects.get().streak_text == "2 of 2 failing runs"
    assert not Alert.objects.get().safeguard_tripped_at


def test_the_runs_needed_come_from_settings_per_check(monkeypatch, announced, quick_notifications, settings):
    settings.HEALTH_CONSECUTIVE_FAILURES = {**settings.HEALTH_CONSECUTIVE_FAILURES, "orphaned_sales": 3}
    script = Script(monkeypatch, "orphaned_sales", ["critical", "critical"])
    script.run_all()
    assert announced == [] and Alert.objects.get().streak_text == "2 of 3 failing runs"
    script.statuses.append("critical")
    script.run_all()
    assert announced == ["orphaned_sales"]


def test_a_warning_that_turns_critical_counts_critical_runs_only(monkeypatch, announced, quick_notifications):
    Script(monkeypatch, "server_id_coverage", ["warning", "warning", "critical"]).run_all()
    assert announced == []
    alert = Alert.objects.get()
    assert alert.severity == "critical" and alert.streak_text == "1 of 2 failing runs"


# --- Pages ----------------------------------------------------------------------------------------------------


def test_the_run_page_says_not_enough_data_and_how_many_failing_runs(
    client_for, support_user, make_sales, quick_notifications
):
    make_sales(3, 3)
    errors(1, error_type="rls_violation")
    errors(11, error_type="rls_violation")  # 12 > 10: critical, and a runbook critical check (1 run needed)
    run_ = services.run_health_checks()
    page = client_for(support_user).get(f"/monitoring/runs/{run_.pk}/").content.decode()
    assert "not enough data" in page and "(3 sales)" in page
    assert "1 of 1 failing run: counts toward automatic action (the kill switch: the flags cure this fault)" in page


def test_the_run_page_says_a_capacity_fault_never_rolls_back(
    client_for, support_user, monkeypatch, quick_notifications
):
    Script(monkeypatch, "db_connections", ["critical", "critical"]).run_all()
    run_ = CheckResult.objects.filter(check_name="db_connections").order_by("-id").first().run
    page = client_for(support_user).get(f"/monitoring/runs/{run_.pk}/").content.decode()
    assert "counts toward automatic action (an incident for the team that owns it" in page
    assert "never a rollback" in page


def test_the_alert_list_and_dashboard_show_the_failing_runs(client_for, support_user, monkeypatch, quick_notifications):
    Script(monkeypatch, "db_connections", ["critical"]).run_all()
    client = client_for(support_user)
    assert "1 of 2 failing runs" in client.get("/monitoring/alerts/").content.decode()
    assert "1 of 2 failing runs" in client.get("/monitoring/status/").content.decode()
