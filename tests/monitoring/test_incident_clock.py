"""The incident clock, driven by passing `now` (no sleeps): overdue updates remind the owner once, unacknowledged
incidents escalate tier by tier after INCIDENT_ESCALATE_AFTER_MINUTES of their severity, and every notification
is stored, delivered by mail and webhook, retried, and shown."""

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.utils import timezone

from adminpanel.models import PanelEvent
from monitoring import tasks
from monitoring.incidents import escalation
from monitoring.incidents import services as incidents
from monitoring.models import Contact, Incident, IncidentNotification
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def t0():
    return timezone.now()


def auto_incident(t0, severity="critical", key="rollout-event:1"):
    incident, _ = incidents.open_incident_for_event(
        trigger_key=key, source="kill_switch", issue="Kill switch pulled", started_at=t0, severity=severity, now=t0
    )
    return incident


def escalations(incident):
    return list(
        IncidentNotification.objects.filter(incident=incident, kind="escalation")
        .order_by("created_at")
        .values_list("tier__name", flat=True)
    )


def test_an_unacknowledged_critical_incident_climbs_the_chain_one_tier_per_escalation_time(t0, chain, settings):
    settings.INCIDENT_ESCALATE_AFTER_MINUTES = {"critical": 15, "high": 30, "medium": 60}
    incident = auto_incident(t0)
    assert escalation.run_incident_clock(now=t0 + timedelta(minutes=14)).escalations == []
    assert escalations(incident) == []

    tick = escalation.run_incident_clock(now=t0 + timedelta(minutes=15, seconds=1))
    assert [n.tier.name for n in tick.escalations] == ["DevOps/Database team"]
    incident.refresh_from_db()
    assert incident.tier == chain[1]
    # The next tier waits a full escalation time after the previous one was told.
    escalation.run_incident_clock(now=t0 + timedelta(minutes=29))
    assert escalations(incident) == ["DevOps/Database team"]
    escalation.run_incident_clock(now=t0 + timedelta(minutes=31))
    assert escalations(incident) == ["DevOps/Database team", "Product/Business team"]
    # The end of the chain: nobody further to tell.
    escalation.run_incident_clock(now=t0 + timedelta(hours=5))
    assert escalations(incident) == ["DevOps/Database team", "Product/Business team"]
    assert PanelEvent.objects.filter(action="incident.escalate", target_id=str(incident.pk)).count() == 2
    escalated = PanelEvent.objects.filter(action="incident.escalate").order_by("id").first()
    assert escalated.actor is None and "15 minutes" in escalated.reason
    assert [m.to for m in mail.outbox] == [["dev@example.com"], ["dba@example.com"], ["lead@example.com"]]
    assert "escalated to the DevOps/Database team" in mail.outbox[1].subject + mail.outbox[1].body


def test_the_escalation_time_depends_on_the_severity(t0, chain, settings):
    settings.INCIDENT_ESCALATE_AFTER_MINUTES = {"critical": 15, "high": 30, "medium": 60}
    medium = auto_incident(t0, severity="medium", key="k:medium")
    high = auto_incident(t0, severity="high", key="k:high")
    escalation.run_incident_clock(now=t0 + timedelta(minutes=31))
    assert escalations(high) == ["DevOps/Database team"] and escalations(medium) == []
    escalation.run_incident_clock(now=t0 + timedelta(minutes=61))
    assert escalations(medium) == ["DevOps/Database team"]


def test_an_acknowledged_incident_is_not_escalated(t0, chain, support_user):
    incident = auto_incident(t0)
    incidents.acknowledge_incident(actor=support_user, incident_id=incident.pk, now=t0 + timedelta(minutes=5))
    escalation.run_incident_clock(now=t0 + timedelta(hours=2))
    assert escalations(incident) == []


def test_a_resolved_incident_is_neither_escalated_nor_reminded(t0, chain, product_user):
    incident = auto_incident(t0)
    Incident.objects.filter(pk=incident.pk).update(next_update_at=t0 + timedelta(minutes=10))
    incidents.post_update(actor=product_user, incident_id=incident.pk, status="resolved", message="ok", now=t0)
    tick = escalation.run_incident_clock(now=t0 + timedelta(hours=2))
    assert tick.escalations == [] and tick.reminders == []


def owned_incident(owner, t0, next_in=30):
    incident = incidents.open_incident(
        actor=owner,
        severity="high",
        issue="Errors on sale creation",
        now=t0,
        next_update_at=t0 + timedelta(minutes=next_in),
    )
    # Acknowledged, so only the reminder clock runs here.
    incidents.acknowledge_incident(actor=owner, incident_id=incident.pk, now=t0)
    return incident


def test_the_owner_is_reminded_once_when_the_next_update_is_overdue(t0, chain, quick_notifications):
    owner = UserFactory(username="pat", email="pat@example.com", is_superuser=True)
    incident = owned_incident(owner, t0)
    assert escalation.run_incident_clock(now=t0 + timedelta(minutes=29)).reminders == []
    assert [m.to for m in mail.outbox] == [["dev@example.com"]]  # the opening, to the first tier
    mail.outbox.clear()
    tick = escalation.run_incident_clock(now=t0 + timedelta(minutes=31))
    assert len(tick.reminders) == 1 and tick.delivered == 1
    reminder = tick.reminders[0]
    assert reminder.emails == ["pat@example.com"] and reminder.due_at == t0 + timedelta(minutes=30)
    assert [m.to for m in mail.outbox] == [["pat@example.com"]]
    assert "update overdue" in mail.outbox[0].subject
    # Once per missed time, however often the clock ticks.
    assert escalation.run_incident_clock(now=t0 + timedelta(minutes=45)).reminders == []
    assert IncidentNotification.objects.filter(kind="reminder").count() == 1
    assert PanelEvent.objects.filter(action="incident.remind", target_id=str(incident.pk)).count() == 1


def test_a_new_update_sets_a_new_time_to_be_reminded_at(t0, chain):
    owner = UserFactory(username="pat", email="pat@example.com", is_superuser=True)
    incident = owned_incident(owner, t0)
    escalation.run_incident_clock(now=t0 + timedelta(minutes=31))
    incidents.post_update(
        actor=owner,
        incident_id=incident.pk,
        status="mitigating",
        message="rolled back",
        next_update_at=t0 + timedelta(minutes=60),
        now=t0 + timedelta(minutes=32),
    )
    assert escalation.run_incident_clock(now=t0 + timedelta(minutes=59)).reminders == []
    assert len(escalation.run_incident_clock(now=t0 + timedelta(minutes=61)).reminders) == 1
    assert IncidentNotification.objects.filter(kind="reminder").count() == 2


def test_without_an_owner_e_mail_the_reminder_goes_to_the_tier_told_last(t0, chain, product_user):
    owned_incident(product_user, t0)  # product_user has no e-mail
    tick = escalation.run_incident_clock(now=t0 + timedelta(minutes=31))
    assert tick.reminders[0].emails == ["dev@example.com"]


def test_the_on_call_webhook_hears_reminders_and_a_contacts_webhook_hears_its_tier(
    t0, chain, quick_notifications, webhook_server
):
    on_call, dba_hook = webhook_server(), webhook_server()
    quick_notifications.ALERT_WEBHOOK_URL = on_call.url
    quick_notifications.PANEL_URL = "https://panel.example.com"
    Contact.objects.filter(tier=chain[1]).update(webhook_url=dba_hook.url)
    owner = UserFactory(username="pat", email="pat@example.com", is_superuser=True)
    owned_incident(owner, t0)
    escalation.run_incident_clock(now=t0 + timedelta(minutes=31))
    assert [body["event"] for body in on_call.received] == ["reminder"]
    assert on_call.received[0]["text"].startswith("update overdue")

    escalated = auto_incident(t0)
    escalation.run_incident_clock(now=t0 + timedelta(minutes=16))
    assert [body["event"] for body in dba_hook.received] == ["escalation"]
    assert dba_hook.received[0]["incident_id"] == escalated.pk
    assert dba_hook.received[0]["incident_url"] == f"https://panel.example.com/incidents/{escalated.pk}/"
    assert "INCIDENT: Mode Switching Deployment Issue" in dba_hook.received[0]["text"]


def test_a_failing_webhook_is_retried_and_the_notification_stays_pending_until_it_works(
    t0, chain, quick_notifications, webhook_server
):
    failing = webhook_server(statuses=[500, 500, 500])
    Contact.objects.filter(tier=chain[0]).update(webhook_url=failing.url)
    incident = auto_incident(t0)
    tick = escalation.run_incident_clock(now=t0)
    note = IncidentNotification.objects.get(incident=incident, kind="opened")
    assert tick.delivered == 0 and note.notified_at is None and note.attempts == 1
    assert note.delivered_to == ["mail:dev@example.com"] and "webhook of Dev On-call" in note.last_error
    assert failing.url not in note.last_error  # a webhook URL is a secret: never shown
    assert note.delivery == "pending"
    assert len(failing.received) == 3 and len(mail.outbox) == 1

    assert escalation.run_incident_clock(now=t0 + timedelta(minutes=1)).delivered == 1
    note.refresh_from_db()
    assert note.delivery == "delivered" and len(mail.outbox) == 1  # the mail is not sent twice


def test_a_tier_without_contacts_is_shown_as_nobody_to_send_to(t0, chain):
    Contact.objects.filter(tier=chain[0]).delete()
    incident = auto_incident(t0)
    escalation.run_incident_clock(now=t0)
    note = IncidentNotification.objects.get(incident=incident)
    assert note.delivery == "nobody to send to" and note.attempts == 0


def test_a_second_clock_running_at_the_same_time_skips_its_tick(t0, chain):
    from django.db import connections

    other = connections.create_connection("default")  # another process's session, holding the clock's lock
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [escalation.CLOCK_LOCK_KEY])
        assert escalation.run_incident_clock(now=t0) is None
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [escalation.CLOCK_LOCK_KEY])
    finally:
        other.close()
    assert escalation.run_incident_clock(now=t0) is not None


def test_the_beat_runs_the_clock_every_minute_and_drops_missed_ticks():
    entry = django_settings.CELERY_BEAT_SCHEDULE["incident-clock-every-minute"]
    assert entry["task"] == tasks.INCIDENT_CLOCK == tasks.incident_clock.name
    assert entry["schedule"] == django_settings.INCIDENT_CLOCK_INTERVAL_SECONDS
    assert 0 < entry["options"]["expires"] < entry["schedule"]


def test_the_clock_task_runs_one_tick(chain, t0):
    auto_incident(t0 - timedelta(minutes=20))
    assert tasks.incident_clock.apply().get() == {"refreshed": 1, "reminders": 0, "escalations": 1, "delivered": 2}
