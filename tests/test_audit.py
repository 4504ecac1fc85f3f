import pytest
from django.db import DatabaseError, connection, transaction

from adminpanel.audit import record_event
from adminpanel.models import PanelEvent

pytestmark = pytest.mark.django_db


def test_record_event_keeps_who_what_before_after_and_why(bar, manager):
    event = record_event(
        actor=manager, action="mapping.update", target=bar, before={"a": 1}, after={"a": 2}, reason="typo", bar=bar
    )
    stored = PanelEvent.objects.get(pk=event.pk)
    assert (stored.actor, stored.actor_name, stored.action) == (manager, "manager_a", "mapping.update")
    assert (stored.target_type, stored.target_id) == ("adminpanel.bar", str(bar.pk))
    assert (stored.before, stored.after, stored.reason, stored.bar) == ({"a": 1}, {"a": 2}, "typo", bar)


def test_system_events_are_attributed_to_system(bar):
    event = record_event(actor=None, action="rollback.automatic", target=bar)
    assert event.actor is None and event.actor_name == "system"


@pytest.mark.parametrize("statement", ["UPDATE panel_events SET reason = 'rewritten'", "DELETE FROM panel_events"])
def test_the_database_refuses_to_rewrite_or_delete_audit_events(bar, statement):
    record_event(actor=None, action="x", target=bar, reason="original")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert PanelEvent.objects.get().reason == "original"
