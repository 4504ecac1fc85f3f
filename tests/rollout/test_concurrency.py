import threading

import pytest
from django.db import connection

from rollout.models import EventKind, RolloutEvent, RolloutStep
from rollout.stages import services
from tests.factories import BarFactory, state


@pytest.mark.django_db(transaction=True)
def test_twenty_simultaneous_advances_move_the_stage_once_with_one_audit_entry(owner, fresh_run):
    BarFactory.create_batch(5, is_internal=True)
    seen = state().version
    barrier = threading.Barrier(20)
    outcomes, errors = [], []

    def press_advance():
        try:
            barrier.wait(timeout=10)
            outcomes.append(services.advance_stage(actor=owner, expected_version=seen).applied)
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=press_advance) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(outcomes) == [False] * 19 + [True]
    assert state().stage == "4a" and state().version == seen + 1
    assert RolloutStep.objects.count() == 1
    assert RolloutEvent.objects.filter(kind=EventKind.STAGE_ADVANCE).count() == 1
