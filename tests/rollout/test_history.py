import csv
import io

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse

from rollout.flags import services
from rollout.models import EventKind, RolloutEvent
from tests.factories import BarFactory, advance


@pytest.fixture
def events(owner, fresh_run):
    BarFactory(is_internal=True)
    services.flip_flag(actor=owner, flag_key="ENABLE_SWITCHING_MODE", state="global", reason="=HYPERLINK(1)")
    advance(owner)
    advance(owner, override_reason="skip soak")  # nothing left in 4a: starts 4b, soak and cohort gates overridden
    return RolloutEvent.objects.all()


def test_the_database_refuses_to_update_or_delete_the_timeline(events):
    event = events.first()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        RolloutEvent.objects.filter(pk=event.pk).update(reason="rewritten")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        RolloutEvent.objects.filter(pk=event.pk).delete()
    assert RolloutEvent.objects.get(pk=event.pk).reason == event.reason


def test_the_history_filters_by_kind_and_overrides(client_for, owner, events):
    client = client_for(owner)
    flips = client.get(reverse("rollout:history"), {"kind": EventKind.FLAG_FLIP})
    kinds = [event.kind for event, _ in flips.context["events"]]
    assert kinds == [EventKind.FLAG_FLIP]
    overrides = client.get(reverse("rollout:history"), {"overrides": "true"})
    assert {event.kind for event, _ in overrides.context["events"]} == {
        EventKind.GATE_OVERRIDE,
        EventKind.STAGE_ADVANCE,
    }
    assert b'class="override"' in overrides.content


def test_the_history_exports_as_csv_with_formulas_defused(client_for, support_user, events):
    response = client_for(support_user).get(reverse("rollout:history_csv"), {"kind": EventKind.FLAG_FLIP})
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["id", "created_at", "kind", "actor"]
    assert len(rows) == 2 and rows[1][2] == "flag_flip" and rows[1][8] == "'=HYPERLINK(1)"


def test_a_bad_filter_value_is_a_message_not_an_error(client_for, owner, events):
    response = client_for(owner).get(reverse("rollout:history"), {"since": "yesterday", "kind": "nonsense"})
    assert response.status_code == 200
