"""One incident per event: twenty callers opening the incident of the same event at the same moment, each on its
own database connection, make exactly one incident, one notification and one audit row."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from adminpanel.models import PanelEvent
from monitoring import incidents
from monitoring.models import Incident, IncidentNotification


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_triggers_of_one_event_open_one_incident():
    barrier = threading.Barrier(20)
    results, errors = [], []

    def trigger():
        try:
            barrier.wait(timeout=10)
            incident, created = incidents.open_incident_for_event(
                trigger_key="rollout-event:77",
                source="auto_rollback",
                issue="Automatic rollback",
                started_at=timezone.now(),
            )
            results.append((incident.pk, created))
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=trigger) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == 20
    assert len({pk for pk, _ in results}) == 1
    assert sorted(created for _, created in results) == [False] * 19 + [True]
    assert Incident.objects.count() == 1
    assert IncidentNotification.objects.filter(kind="opened").count() == 1
    assert PanelEvent.objects.filter(action="incident.open").count() == 1


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_clock_ticks_escalate_once(chain):
    from datetime import timedelta

    t0 = timezone.now()
    incident, _ = incidents.open_incident_for_event(
        trigger_key="rollout-event:78", source="kill_switch", issue="Kill switch pulled", started_at=t0, now=t0
    )
    barrier = threading.Barrier(20)
    errors = []

    def tick():
        try:
            barrier.wait(timeout=10)
            incidents.escalate_unacknowledged(now=t0 + timedelta(hours=1))
            incidents.send_due_reminders(now=t0 + timedelta(hours=1))
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)
        finally:
            connection.close()

    Incident.objects.filter(pk=incident.pk).update(next_update_at=t0 + timedelta(minutes=30))
    threads = [threading.Thread(target=tick) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    # The first tick to lock the incident tells the second tier (now); the others skip it while it is locked or
    # see that the second tier was told just now. One reminder for the one missed time.
    kinds = list(IncidentNotification.objects.filter(incident=incident).values_list("kind", "tier__position"))
    assert sorted(position for kind, position in kinds if kind == "escalation") == [2]
    assert sum(1 for kind, _ in kinds if kind == "reminder") == 1
