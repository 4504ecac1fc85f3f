from datetime import timedelta

import pytest
from django.utils import timezone

from monitoring.models import Alert, CheckStatus, HealthRun
from rollout import errors
from rollout.models import EventKind, RolloutEvent
from tests.factories import BarFactory, advance, backdate_soak, grant_owner, make_product, meet_4a_checklist, state


@pytest.fixture
def at_4a(owner, fresh_run):
    BarFactory(is_internal=True)
    BarFactory.create_batch(10)
    advance(owner)
    meet_4a_checklist()
    return state()


def refused_with(owner, text):
    with pytest.raises(errors.GateClosed) as refused:
        advance(owner)
    assert text in str(refused.value)
    return refused.value


def test_no_health_run_at_all_keeps_the_gate_closed(owner):
    BarFactory(is_internal=True)
    refused_with(owner, "No health run has finished yet")
    assert state().stage == "off"


def test_a_stale_health_run_is_refused_with_its_age(owner):
    BarFactory(is_internal=True)
    finished = timezone.now() - timedelta(minutes=11)
    HealthRun.objects.create(started_at=finished, finished_at=finished, status=CheckStatus.OK)
    refused = refused_with(owner, "finished 11 min ago")
    assert [gate.name for gate in refused.gates] == ["health_fresh"]
    assert state().stage == "off" and not RolloutEvent.objects.exists()


@pytest.mark.parametrize("alert_state", ["open", "acknowledged"])
def test_an_unresolved_critical_alert_is_refused(owner, fresh_run, alert_state):
    BarFactory(is_internal=True)
    Alert.objects.create(check_name="orphaned_sales", severity=CheckStatus.CRITICAL, state=alert_state)
    refused_with(owner, "orphaned_sales")
    assert state().stage == "off"


def test_resolved_or_warning_alerts_do_not_close_the_gate(owner, fresh_run):
    BarFactory(is_internal=True)
    Alert.objects.create(check_name="orphaned_sales", severity=CheckStatus.CRITICAL, state="resolved")
    Alert.objects.create(check_name="fallback_mappings", severity=CheckStatus.WARNING, state="open")
    assert advance(owner).applied


def test_insufficient_soak_is_refused_with_the_hours(owner, at_4a):
    refused_with(owner, "has soaked 0.0 h of the 24 h it needs")
    assert state().stage == "4a"


def test_the_soak_time_per_stage_comes_from_settings(owner, at_4a, settings):
    settings.ROLLOUT_SOAK_HOURS = {"4a": 2, "4b": 24, "4c": 24}
    backdate_soak(hours=3)
    assert advance(owner).applied and state().stage == "4b"


def test_an_override_with_the_permission_is_allowed_and_audited_in_red(owner, at_4a):
    result = advance(owner, override_reason="CEO demo at noon")
    assert result.applied and state().stage == "4b"
    override = RolloutEvent.objects.get(kind=EventKind.GATE_OVERRIDE)
    assert override.is_override and override.reason == "CEO demo at noon" and override.actor == owner
    assert override.after["overridden"] == ["soaked", "cohort_vs_control"]  # 4a just started: no data either
    assert RolloutEvent.objects.get(kind=EventKind.STAGE_ADVANCE, stage_after="4b").is_override


def test_an_override_without_the_permission_is_refused_and_changes_nothing(at_4a):
    no_override = grant_owner(make_product(username="no_override"))
    events = RolloutEvent.objects.count()
    with pytest.raises(errors.NotAllowed):
        advance(no_override, override_reason="I am in a hurry")
    assert state().stage == "4a" and RolloutEvent.objects.count() == events


def test_green_gates_need_no_override(owner, at_4a):
    backdate_soak()
    result = advance(owner)
    assert result.applied and all(gate.passed for gate in result.gates)
    assert not RolloutEvent.objects.filter(kind=EventKind.GATE_OVERRIDE).exists()
