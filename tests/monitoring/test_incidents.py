"""Incidents by hand: opening, acknowledging, updates, resolving, the impact from the database, the
communication template; who may do each, and that a refusal or bad input changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from adminpanel.models import AuditLog, OperatingMode, PanelEvent, Sale
from monitoring.incidents import communication
from monitoring.incidents import selectors as incident_selectors
from monitoring.incidents import services as incidents
from monitoring.models import Incident, IncidentNotification, IncidentUpdate
from tests.factories import AuditLogFactory, BarFactory

pytestmark = pytest.mark.django_db


def open_one(user, **kwargs):
    values = {"severity": "high", "issue": "Sales in simplified bars lose their server."} | kwargs
    return incidents.open_incident(actor=user, **values)


def simplified_bar(name="Maquis Soleil"):
    return BarFactory(name=name, settings={"operatingMode": OperatingMode.SIMPLIFIED})


def test_product_and_support_open_an_incident_and_the_first_tier_is_told(product_user, support_user, chain):
    for user in (product_user, support_user):
        incident = open_one(user)
        assert incident.status == "investigating" and incident.owner == user and incident.opened_by == user
        assert incident.tier == chain[0] and incident.tier_notified_at is not None
        note = IncidentNotification.objects.get(incident=incident)
        assert note.kind == "opened" and note.emails == ["dev@example.com"]
        assert "Development team (Dev On-call)" in note.audience
        assert "INCIDENT: Mode Switching Deployment Issue" in note.body
        event = PanelEvent.objects.get(action="incident.open", target_id=str(incident.pk))
        assert event.actor == user and event.after["severity"] == "high"


@pytest.mark.parametrize("who", ["manager", "plain_user"])
def test_a_bar_manager_or_a_user_without_a_role_cannot_open_one(request, who, chain):
    user = request.getfixturevalue(who)
    with pytest.raises(incidents.NotAllowed):
        open_one(user)
    assert not Incident.objects.exists() and not PanelEvent.objects.filter(action__startswith="incident").exists()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"issue": "   "}, "issue description is required"),
        ({"issue": "x" * 4001}, "longer than 4000"),
        ({"issue": "bad\x00byte"}, "NUL"),
        ({"severity": "apocalyptic"}, "Unknown severity"),
        ({"started_at": timezone.now() + timedelta(hours=1)}, "future"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_nothing_is_written(product_user, chain, values, message):
    with pytest.raises(incidents.InvalidIncident, match=message):
        open_one(product_user, **values)
    assert not Incident.objects.exists() and not IncidentNotification.objects.exists()


def test_only_incident_handlers_can_be_made_owners(product_user, manager, chain):
    with pytest.raises(incidents.InvalidIncident, match="cannot own"):
        open_one(product_user, owner=manager)
    assert not Incident.objects.exists()


def test_the_impact_counts_switched_bars_bars_with_errors_orphaned_sales_and_error_logs_of_the_window(
    product_user, chain
):
    now = timezone.now()
    start = now - timedelta(minutes=30)
    switched, other_switched = simplified_bar(), simplified_bar("Chez Awa")
    full = BarFactory(name="Le Plateau", settings={"operatingMode": OperatingMode.FULL})
    # In the window: 3 sales without server_id in a simplified bar (counted), 1 in a full bar (not counted).
    Sale.objects.bulk_create(Sale(bar=switched, amount=10, created_at=now - timedelta(minutes=5)) for _ in range(3))
    Sale.objects.create(bar=full, amount=10, created_at=now - timedelta(minutes=5))
    # Before the window: not counted.
    Sale.objects.create(bar=other_switched, amount=10, created_at=start - timedelta(minutes=1))
    AuditLogFactory(bar=full, created_at=now - timedelta(minutes=2))
    AuditLogFactory(bar=switched, created_at=now - timedelta(minutes=3))
    AuditLogFactory(bar=full, level=AuditLog.Level.WARNING, created_at=now - timedelta(minutes=3))
    AuditLogFactory(bar=full, created_at=start - timedelta(minutes=5))

    incident = open_one(product_user, started_at=start, now=now)
    impact = incident_selectors.incident_impact(incident, now=now)
    assert (impact.switched_bars, impact.bars_with_errors, impact.bars_affected) == (2, 2, 3)
    assert (impact.sales_affected, impact.error_logs) == (3, 2)
    assert incident.impact["bars_affected"] == 3  # stored when it opened


def test_the_impact_follows_the_database_until_resolution_then_stays_frozen(product_user, chain):
    bar = simplified_bar()
    incident = open_one(product_user, started_at=timezone.now() - timedelta(minutes=10))
    Sale.objects.create(bar=bar, amount=5, created_at=timezone.now() - timedelta(minutes=1))
    assert incidents.refresh_impacts(now=timezone.now()) == 1
    incident.refresh_from_db()
    assert incident.impact["sales_without_server_id"] == 1

    incidents.post_update(actor=product_user, incident_id=incident.pk, status="resolved", message="Flags back on.")
    incident.refresh_from_db()
    frozen = incident.impact
    Sale.objects.create(bar=bar, amount=5, created_at=timezone.now())
    assert incidents.refresh_impacts(now=timezone.now() + timedelta(minutes=5)) == 0
    incident.refresh_from_db()
    assert incident.impact == frozen
    assert incident_selectors.incident_impact(incident).sales_affected == 1


def test_an_update_sets_status_next_update_and_acknowledges_and_is_audited(product_user, support_user, chain):
    incident = open_one(product_user)
    now = timezone.now()
    update = incidents.post_update(
        actor=support_user,
        incident_id=incident.pk,
        status="mitigating",
        severity="critical",
        message="Kill switch pulled; watching the error rate.",
        next_update_at=now + timedelta(minutes=30),
        now=now,
    )
    incident.refresh_from_db()
    assert (incident.status, incident.severity) == ("mitigating", "critical")
    assert incident.next_update_at == now + timedelta(minutes=30)
    assert incident.acknowledged_by == support_user and incident.owner == product_user
    assert update.author == support_user and update.status == "mitigating"
    event = PanelEvent.objects.get(action="incident.update")
    assert event.before["status"] == "investigating" and event.after["status"] == "mitigating"
    assert event.reason == "Kill switch pulled; watching the error rate."


def test_resolving_closes_the_incident_and_no_update_follows(product_user, chain):
    incident = open_one(product_user)
    incidents.post_update(
        actor=product_user,
        incident_id=incident.pk,
        status="resolved",
        message="Root cause fixed.",
        next_update_at=timezone.now() + timedelta(minutes=30),
    )
    incident.refresh_from_db()
    assert incident.is_resolved and incident.resolved_at is not None and incident.next_update_at is None
    assert PanelEvent.objects.filter(action="incident.resolve").count() == 1
    with pytest.raises(incidents.IncidentClosed):
        incidents.post_update(actor=product_user, incident_id=incident.pk, status="mitigating", message="again")
    assert IncidentUpdate.objects.count() == 1


def test_a_manager_cannot_update_acknowledge_or_send_and_nothing_changes(product_user, manager, chain):
    incident = open_one(product_user)
    calls = [
        lambda: incidents.post_update(actor=manager, incident_id=incident.pk, status="resolved", message="done"),
        lambda: incidents.acknowledge_incident(actor=manager, incident_id=incident.pk),
        lambda: incidents.send_communication(actor=manager, incident_id=incident.pk, tier_id=chain[1].pk),
    ]
    for call in calls:
        with pytest.raises(incidents.NotAllowed):
            call()
    incident.refresh_from_db()
    assert incident.status == "investigating" and incident.acknowledged_at is None
    assert IncidentNotification.objects.count() == 1 and not IncidentUpdate.objects.exists()
    assert PanelEvent.objects.filter(action__startswith="incident").count() == 1  # the opening only


def test_an_update_due_in_the_past_is_refused(product_user, chain):
    incident = open_one(product_user)
    with pytest.raises(incidents.InvalidIncident, match="future"):
        incidents.post_update(
            actor=product_user,
            incident_id=incident.pk,
            status="mitigating",
            message="x",
            next_update_at=timezone.now() - timedelta(minutes=1),
        )
    assert not IncidentUpdate.objects.exists()


def test_acknowledging_takes_ownership_once(support_user, product_user, chain):
    incident, _ = incidents.open_incident_for_event(
        trigger_key="test:1", source="kill_switch", issue="Kill switch pulled", started_at=timezone.now()
    )
    assert incident.owner is None
    incidents.acknowledge_incident(actor=support_user, incident_id=incident.pk)
    incidents.acknowledge_incident(actor=product_user, incident_id=incident.pk)
    incident.refresh_from_db()
    assert incident.owner == support_user and incident.acknowledged_by == support_user
    assert PanelEvent.objects.filter(action="incident.acknowledge").count() == 1


def test_the_communication_template_is_the_runbooks_filled_from_the_incident(product_user, chain):
    bar = simplified_bar()
    start = timezone.now() - timedelta(minutes=20)
    Sale.objects.bulk_create(
        Sale(bar=bar, amount=1, created_at=timezone.now() - timedelta(minutes=2)) for _ in range(4)
    )
    AuditLogFactory(bar=bar, created_at=timezone.now() - timedelta(minutes=1))
    incident = open_one(product_user, severity="critical", issue="Orphaned sales\nin simplified bars", started_at=start)
    due = timezone.now() + timedelta(minutes=30)
    incidents.post_update(
        actor=product_user, incident_id=incident.pk, status="mitigating", message="on it", next_update_at=due
    )
    incident.refresh_from_db()
    text = communication.render_text(communication.communication_for(incident))
    lines = text.splitlines()
    assert lines[0] == "INCIDENT: Mode Switching Deployment Issue"
    assert f"Time: {communication.utc(start)}" in lines
    assert "Severity: Critical" in lines and "Status: Mitigating" in lines
    assert "Issue: Orphaned sales in simplified bars" in lines
    assert "Impact: 1 bar affected (1 in simplified mode, 1 with errors), 4 sales affected" in text
    assert "1 error-level audit log)" in text
    assert "Actions Taken: None yet" in lines
    assert f"Next Update: {communication.utc(due)}" in lines
    assert "Contact: Dev On-call (Development team), +225 01 02 03 04, dev@example.com" in lines


def test_the_markdown_template_escapes_what_people_typed(product_user, chain):
    incident = open_one(product_user, issue="<b>*everything*</b> [down]")
    markdown = communication.render_markdown(communication.communication_for(incident))
    assert markdown.startswith("# INCIDENT: Mode Switching Deployment Issue\n")
    assert r"**Issue**: \<b\>\*everything\*\</b\> \[down\]" in markdown
    assert "**Next Update**: Upon Resolution" in markdown


def test_sending_the_template_to_a_tier_stores_it_for_its_contacts_and_audits_it(support_user, chain):
    incident = open_one(support_user)
    sent = incidents.send_communication(actor=support_user, incident_id=incident.pk, tier_id=chain[2].pk)
    assert sent.kind == "communication" and sent.emails == ["lead@example.com"] and sent.actor == support_user
    assert sent.body.splitlines()[3] == "INCIDENT: Mode Switching Deployment Issue"
    event = PanelEvent.objects.get(action="incident.communicate")
    assert event.after["tier"] == "Product/Business team"


def test_sending_to_a_tier_without_reachable_contacts_says_so_and_stores_nothing(support_user, chain):
    incident = open_one(support_user)
    chain[1].contacts.update(is_active=False)
    with pytest.raises(incidents.InvalidIncident, match="no active contact"):
        incidents.send_communication(actor=support_user, incident_id=incident.pk, tier_id=chain[1].pk)
    assert IncidentNotification.objects.filter(kind="communication").count() == 0
