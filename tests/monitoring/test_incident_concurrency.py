"""One incident per event: twenty callers opening the incident of the same event at the same moment, each on its
own database connection, make exactly one incident, one notification and one audit row."""

from datetime import timedelta

import pytest
from django.utils import timezone

from adminpanel.models import PanelEvent
from monitoring.incidents import escalation
from monitoring.incidents import services as incidents
from monitoring.models import Incident, IncidentNotification
from tests.threads import run_together


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_triggers_of_one_event_open_one_incident():
    def trigger():
        incident, created = incidents.open_incident_for_event(
            trigger_key="rollout-event:77",
            source="auto_rollback",
            issue="Automatic rollback",
            started_at=timezone.now(),
        )
        return incident.pk, created

    results, errors = run_together([trigger] * 20)
    assert errors == []
    assert len(results) == 20
    assert len({pk for pk, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 19 + [True]
    assert Incident.objects.count() == 1
    assert IncidentNotification.objects.filter(kind="opened").count() == 1
    assert PanelEvent.objects.filter(action="incident.open").count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_clock_ticks_escalate_and_remind_once(chain):
    t0 = timezone.now()
    incident, _ = incidents.open_incident_for_event(
        trigger_key="rollout-event:78", source="kill_switch", issue="Kill switch pulled", started_at=t0, now=t0
    )
    Incident.objects.filter(pk=incident.pk).update(next_update_at=t0 + timedelta(minutes=30))

    def tick():
        escalation.escalate_unacknowledged(now=t0 + timedelta(hours=1))
        escalation.send_due_reminders(now=t0 + timedelta(hours=1))

    _, errors = run_together([tick] * 20)
    assert errors == []
    # The first tick to lock the incident tells the second tier (now); the others skip it while it is locked or
    # see that the second tier was told just now. One reminder for the one missed time.
    kinds = list(IncidentNotification.objects.filter(incident=incident).values_list("kind", "tier__position"))
    assert sorted(position for kind, position in kinds if kind == "escalation") == [2]
    assert sum(1 for kind, _ in kinds if kind == "reminder") == 1
