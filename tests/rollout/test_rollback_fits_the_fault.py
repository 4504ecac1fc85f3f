"""Issue 22: a false automatic rollback. Five slow maintenance UPDATEs by the panel's own role (changing no row) made
`query_latency` critical and, with stage 4a live, pulled the kill switch. The check now reads only the clients'
statements (QUERY_LATENCY_CLIENT_ROLES) run since the previous health run, and latency is never a fault the flags
cure (DESIGN §4d): a critical latency alert opens an incident and leaves the flags alone."""

import json
from contextlib import contextmanager

from django.db import connection, transaction

from adminpanel.models import MemberRole
from monitoring.health import services as monitoring_services
from monitoring.models import Alert, CheckStatus, Incident
from rollout.killswitch import critical_alerts, services
from rollout.models import EventKind, FeatureFlag, RolloutEvent
from tests.factories import BarFactory, BarMemberFactory, SaleFactory, ServerFactory, advance, state

CLIENT_WRITE = "UPDATE sales SET amount = amount WHERE id = -1"
SLOW_CLIENT_WRITE = "UPDATE sales SET amount = amount WHERE bar_id = %s AND pg_sleep(0.05) IS NOT NULL"
MAINTENANCE_WRITE = "UPDATE sales SET amount = amount WHERE id IN (SELECT -1 FROM pg_sleep(0.25))"


@contextmanager
def as_client(user=None):
    """A cursor as Supabase's `authenticated` role (with `user`'s JWT claims), transaction-local, undone after."""
    claims = json.dumps({"sub": str(user.pk), "role": "authenticated"}) if user else ""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', %s, true)",
                       [claims])  # fmt: skip
        yield cursor
        cursor.execute("SELECT set_config('role', 'none', true), set_config('request.jwt.claims', '', true)")


def latency(run):
    return run.results.get(check_name="query_latency")


def test_slow_maintenance_by_the_panel_neither_alerts_nor_rolls_back(owner, fresh_run, settings):
    settings.HEALTH_THRESHOLDS = {**settings.HEALTH_THRESHOLDS, "query_latency_critical_ms": 100.0,
                                  "query_latency_warning_ms": 50.0}  # fmt: skip
    BarFactory(is_internal=True)
    SaleFactory()
    advance(owner)
    assert state().stage == "4a"

    first = latency(monitoring_services.run_health_checks(trigger="command"))
    assert first.status == CheckStatus.INSUFFICIENT and "first run" in first.detail["sample_text"]

    with connection.cursor() as cursor:  # the panel's own maintenance: slow, changes nothing
        for _ in range(5):
            cursor.execute(MAINTENANCE_WRITE)
    with as_client() as cursor:  # what BarTender's clients ran meanwhile: fast
        for _ in range(6):
            cursor.execute(CLIENT_WRITE)

    second = latency(monitoring_services.run_health_checks(trigger="command"))
    assert second.status == CheckStatus.OK and second.value < 50
    queries = [row["query"] for row in second.detail["slowest"]]
    assert queries and not any("pg_sleep" in query for query in queries)
    assert second.detail["slowest"][0]["calls"] == 6
    assert not Alert.objects.filter(check_name="query_latency").exists()
    assert not FeatureFlag.objects.filter(kill_switch_engaged=True).exists()

    # Nothing new from the clients since: not enough data, never a figure from the past.
    third = latency(monitoring_services.run_health_checks(trigger="command"))
    assert third.status == CheckStatus.INSUFFICIENT and third.value is None


def test_slow_client_statements_do_alert(owner, settings):
    settings.HEALTH_THRESHOLDS = {**settings.HEALTH_THRESHOLDS, "query_latency_critical_ms": 100.0}
    bar, boss = BarFactory(), ServerFactory()
    BarMemberFactory(bar=bar, user=boss, role=MemberRole.MANAGER)
    SaleFactory.create_batch(3, bar=bar, created_by=boss)
    monitoring_services.run_health_checks(trigger="command")
    with as_client(boss) as cursor:  # a manager's slow write under the policies: 3 rows x 50 ms
        for _ in range(5):
            cursor.execute(SLOW_CLIENT_WRITE, [bar.pk])
            assert cursor.rowcount == 3
    result = latency(monitoring_services.run_health_checks(trigger="command"))
    assert result.status == CheckStatus.CRITICAL and result.value >= 100


def test_a_critical_latency_alert_opens_an_incident_and_leaves_the_flags_alone(owner, fresh_run):
    BarFactory(is_internal=True)
    advance(owner)
    for check in ("query_latency", "db_connections", "rls_policies"):
        alert = Alert.objects.create(check_name=check, severity=CheckStatus.CRITICAL)
        critical_alerts.on_critical_alert_opened(alert=alert)
        incident = Incident.objects.get(trigger_key=f"alert:{alert.pk}")
        assert incident.source == Incident.Source.CRITICAL_ALERT and "no automatic rollback" in incident.issue
    assert not FeatureFlag.objects.filter(kill_switch_engaged=True).exists()
    assert not RolloutEvent.objects.filter(kind=EventKind.AUTO_ROLLBACK).exists()
    # A fault the flags cure still rolls back.
    critical_alerts.on_critical_alert_opened(
        alert=Alert.objects.create(check_name="orphaned_sales", severity="critical")
    )
    assert not FeatureFlag.objects.filter(kill_switch_engaged=False).exists()


def test_a_schema_fault_with_a_stage_live_pages_devops_at_once_and_leaves_the_flags(owner, fresh_run):
    """Issue 21: escalation by the fault's kind: a database fault goes to DevOps/Database at once."""
    BarFactory(is_internal=True)
    advance(owner)
    alert = Alert.objects.create(check_name="rls_policies", severity=CheckStatus.CRITICAL)
    critical_alerts.on_critical_alert_opened(alert=alert)
    incident = Incident.objects.get(trigger_key=f"alert:{alert.pk}")
    told = list(incident.notifications.order_by("id").values_list("kind", "tier__name"))
    assert told == [("opened", "Development team"), ("paged", "DevOps/Database team")]
    assert incident.tier.name == "DevOps/Database team"  # time-based escalation carries on from there
    assert not FeatureFlag.objects.filter(kill_switch_engaged=True).exists()


def test_an_automatic_rollback_while_bars_are_switched_pages_product_at_once(owner, fresh_run):
    BarFactory(is_internal=True)
    advance(owner)
    critical_alerts.on_critical_alert_opened(
        alert=Alert.objects.create(check_name="orphaned_sales", severity="critical")
    )
    incident = Incident.objects.get(source=Incident.Source.AUTO_ROLLBACK)
    told = list(incident.notifications.order_by("id").values_list("kind", "tier__name"))
    assert told == [("opened", "Development team"), ("paged", "Product/Business team")]


def test_a_kill_switch_with_no_bar_switched_follows_the_chain_in_order(owner):
    services.pull_kill_switch(actor=owner, reason="drill")
    incident = Incident.objects.get()
    assert list(incident.notifications.values_list("kind", flat=True)) == ["opened"]


def test_a_dropped_sales_policy_with_4a_live_opens_devops_incidents_and_never_touches_the_flags(owner, fresh_run):
    """Issue 21, end to end: a schema fault made in the database (the servers' select policy dropped) while stage
    4a is live is found by the health runs themselves. A select policy still exists (the restrictive member-bars
    one), so "policies present" stays green: what a sampled server sees under RLS finds it. Its critical alert opens
    an incident paged to DevOps/Database at once, and the flags, the allow-lists and the rollout stay as they were."""
    bar = BarFactory(is_internal=True)
    advance(owner)
    manager, server = ServerFactory(), ServerFactory()
    BarMemberFactory(bar=bar, user=manager, role=MemberRole.MANAGER)
    BarMemberFactory(bar=bar, user=server, role=MemberRole.SERVER)
    SaleFactory.create_batch(3, bar=bar, server=server, created_by=manager)
    allow_listed = {flag.key: set(flag.allowed_bars.values_list("pk", flat=True)) for flag in FeatureFlag.objects.all()}
    with connection.cursor() as cursor:
        cursor.execute("DROP POLICY sales_select_own_or_bar_manager ON public.sales")
    run = monitoring_services.run_health_checks(trigger="command")
    assert run.results.get(check_name="rls_policies").status == CheckStatus.OK
    for check in ("rls_enforcement",):
        alert = Alert.objects.get(check_name=check)
        assert alert.severity == CheckStatus.CRITICAL and alert.safeguard_tripped_at is not None
        incident = Incident.objects.get(trigger_key=f"alert:{alert.pk}")
        assert incident.source == Incident.Source.CRITICAL_ALERT and "no automatic rollback" in incident.issue
        told = list(incident.notifications.order_by("id").values_list("kind", "tier__name"))
        assert told == [("opened", "Development team"), ("paged", "DevOps/Database team")]
    assert not FeatureFlag.objects.filter(kill_switch_engaged=True).exists()
    assert not RolloutEvent.objects.filter(kind=EventKind.AUTO_ROLLBACK).exists()
    assert {flag.key: set(flag.allowed_bars.values_list("pk", flat=True))
            for flag in FeatureFlag.objects.all()} == allow_listed  # fmt: skip
    assert state().stage == "4a"
