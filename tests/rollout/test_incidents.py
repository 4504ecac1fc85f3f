"""The rollout's side of incidents: the kill switch (by hand or after a critical alert) opens exactly one incident
per event, whose actions come from the timeline; rollback events on the history page link to the root cause."""

from functools import partial

import pytest

from adminpanel.models import PanelEvent
from monitoring.incidents import selectors as incident_selectors
from monitoring.incidents import services as incidents
from monitoring.models import Alert, CheckStatus, Incident, IncidentNotification
from rollout.events.selectors import incident_trigger_key
from rollout.killswitch import critical_alerts, services
from rollout.models import EventKind, RolloutEvent
from tests.factories import BarFactory, advance, state
from tests.threads import run_together


def open_critical(check_name="orphaned_sales"):
    alert = Alert.objects.create(check_name=check_name, severity=CheckStatus.CRITICAL)
    critical_alerts.on_critical_alert_opened(alert=alert)
    return alert


@pytest.mark.django_db
def test_pulling_the_kill_switch_opens_a_critical_incident_with_the_pull_as_its_action(owner):
    assert services.pull_kill_switch(actor=owner, reason="error rate above 1 %")
    event = RolloutEvent.objects.get(kind=EventKind.KILL_SWITCH)
    incident = Incident.objects.get()
    assert incident.trigger_key == incident_trigger_key(event.pk)
    assert (incident.severity, incident.status, incident.source) == ("critical", "investigating", "kill_switch")
    assert incident.opened_by == owner and incident.owner is None and incident.acknowledged_at is None
    assert incident.title == f"Kill switch pulled by {owner}: error rate above 1 %."
    assert "Both flags are off for every bar" in incident.issue
    actions = incident_selectors.actions_taken(incident)
    assert [(a.actor, a.category) for a in actions] == [("owner", "Rollback")]
    assert actions[0].what == (
        "Kill switch engaged: both flags off for every bar (kill switch); allow-lists and data kept, rollout paused"
    )
    assert actions[0].why == "error rate above 1 %"
    assert IncidentNotification.objects.filter(incident=incident, kind="opened").count() == 1
    assert PanelEvent.objects.filter(action="incident.open", actor=owner).count() == 1


@pytest.mark.django_db
def test_an_automatic_rollback_opens_the_incident_of_its_alert(owner, fresh_run):
    BarFactory(is_internal=True)
    advance(owner)
    alert = open_critical("orphaned_sales")
    incident = Incident.objects.get()
    assert incident.source == "auto_rollback" and incident.alert == alert and incident.opened_by is None
    assert incident.started_at == alert.opened_at
    assert incident.title == "Automatic rollback: critical alert on Orphaned sales in simplified-mode bars (1 h)."
    assert f"Critical alert #{alert.pk} on orphaned_sales" in incident.issue
    assert "while stage 4a was live" in incident.issue
    assert PanelEvent.objects.get(action="incident.open").actor_name == "system"
    # A second critical alert finds the switch engaged: no new event, no new incident.
    open_critical("rls_violations")
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_a_pull_on_an_engaged_switch_opens_nothing(owner):
    services.pull_kill_switch(actor=owner, reason="first")
    assert not services.pull_kill_switch(actor=owner, reason="second")
    assert Incident.objects.count() == 1


@pytest.mark.django_db
def test_an_incident_that_cannot_be_opened_never_keeps_the_flags_on(owner, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("incident store down")

    monkeypatch.setattr(incidents, "open_incident_for_event", broken)
    assert services.pull_kill_switch(actor=owner, reason="error rate")
    assert RolloutEvent.objects.filter(kind=EventKind.KILL_SWITCH).count() == 1
    assert not Incident.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_kill_switches_open_one_incident(owner):
    pulled, errors = run_together([lambda: services.pull_kill_switch(actor=owner, reason="simultaneous")] * 20)
    assert errors == []
    assert sorted(pulled) == [False] * 19 + [True]
    assert RolloutEvent.objects.filter(kind=EventKind.KILL_SWITCH).count() == 1
    assert Incident.objects.count() == 1
    assert IncidentNotification.objects.filter(kind="opened").count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_critical_alerts_during_a_rollout_open_one_incident(owner, fresh_run, settings):
    settings.ROLLOUT_AUTO_ROLLBACK_CHECKS = [f"check_{i}" for i in range(20)]  # twenty faults the flags cure
    BarFactory(is_internal=True)
    advance(owner)
    assert state().stage == "4a"
    alerts = [Alert.objects.create(check_name=f"check_{i}", severity=CheckStatus.CRITICAL) for i in range(20)]
    _, errors = run_together([partial(critical_alerts.on_critical_alert_opened, alert=alert) for alert in alerts])
    assert errors == []
    assert RolloutEvent.objects.filter(kind=EventKind.AUTO_ROLLBACK).count() == 1
    incident = Incident.objects.get()
    assert incident.source == "auto_rollback" and incident.alert_id in {alert.pk for alert in alerts}


@pytest.mark.django_db
def test_each_rollback_on_the_history_page_links_to_its_root_cause(client_for, owner, support_user):
    services.pull_kill_switch(actor=owner, reason="first pull")
    incident = Incident.objects.get()
    services.release_kill_switch(actor=owner, reason="released")
    response = client_for(support_user).get("/rollout/history/")
    html = response.content.decode()
    assert f'href="/incidents/{incident.pk}/root-cause/" class="root-cause-link"' in html
    assert html.count("root-cause-link") == 1  # the release is not a rollback


@pytest.mark.django_db
def test_a_rollback_without_incident_links_to_the_hour_before_it(client_for, owner, support_user):
    services.pull_kill_switch(actor=owner, reason="pull")
    event = RolloutEvent.objects.get(kind=EventKind.KILL_SWITCH)
    Incident.objects.all().delete()
    html = client_for(support_user).get("/rollout/history/").content.decode()
    assert "/incidents/root-cause/?until=" in html
    stamp = event.created_at.isoformat().replace("+", "%2B").replace(":", "%3A")
    assert stamp in html


@pytest.mark.django_db
def test_the_kill_switch_measures_its_incidents_impact_only_after_committing(owner, django_capture_on_commit_callbacks):
    BarFactory(settings={"operatingMode": "simplified"})
    with django_capture_on_commit_callbacks(execute=True):
        services.pull_kill_switch(actor=owner, reason="errors")
        # Inside the kill switch's transaction nothing scans the sales: the impact waits for the commit.
        assert Incident.objects.get().impact == {}
    incident = Incident.objects.get()
    assert incident.impact["switched_bars"] == 1 and incident.impact_measured_at is not None
    opened = IncidentNotification.objects.get(incident=incident, kind="opened")
    assert "Impact: being measured (see the incident page)" in opened.body
