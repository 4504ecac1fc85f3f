"""Stage 4a's runbook prerequisites on the gate: backfill finished, validation passed, Phase 3 window passed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from adminpanel.models import PanelEvent
from backfill.models import BackfillRun, ValidationCheck, ValidationRun
from monitoring.models import PhaseWindow
from rollout import errors
from rollout.models import EventKind, RolloutEvent, RunbookStep
from rollout.runbook import runs
from rollout.stages import gates
from tests.factories import (
    BarFactory,
    advance,
    backdate_soak,
    grant_owner,
    make_product,
    meet_4a_checklist,
    meet_runbook_prerequisites,
    state,
)

PREREQUISITES = [gates.BACKFILL_FINISHED, gates.VALIDATION_PASSED, gates.PHASE3_WINDOW_PASSED]


@pytest.fixture
def nothing_done(db):
    BackfillRun.objects.all().delete()
    ValidationRun.objects.all().delete()
    PhaseWindow.objects.all().delete()


@pytest.fixture
def internal_bar(db):
    return BarFactory(is_internal=True)


def closed(owner) -> dict:
    with pytest.raises(errors.GateClosed) as refused:
        advance(owner)
    return {gate.name: gate for gate in refused.value.gates}


def finished_backfill(at):
    return BackfillRun.objects.create(
        status=BackfillRun.Status.FINISHED, phase=BackfillRun.Phase.DONE, configured_batch_size=10, batch_size=10,
        rows_total=100, rows_done=100, resolved_directly=90, resolved_by_fallback=5, unresolved=5,
        started_at=at - timedelta(minutes=5), finished_at=at,
    )  # fmt: skip


def window(verdict, at):
    return PhaseWindow.objects.create(
        kind=PhaseWindow.Kind.PHASE3, started_at=at, ends_at=at + timedelta(minutes=15), verdict=verdict,
        verdict_at=None if verdict == "pending" else at + timedelta(minutes=16),
    )  # fmt: skip


def test_with_nothing_done_stage_4a_is_refused_on_all_three_with_their_evidence(owner, fresh_run, nothing_done,
                                                                                 internal_bar):  # fmt: skip
    refused = closed(owner)
    assert set(PREREQUISITES) <= set(refused)
    assert "No backfill over every bar has run yet" in refused[gates.BACKFILL_FINISHED].why
    assert "never run" in refused[gates.VALIDATION_PASSED].why
    assert "No Phase 3 monitoring window has run" in refused[gates.PHASE3_WINDOW_PASSED].why
    assert refused[gates.BACKFILL_FINISHED].evidence_url == "/backfill/"
    assert state().stage == "off" and not RolloutEvent.objects.exists()


def test_a_failed_validation_keeps_4a_closed_and_says_what_failed(owner, fresh_run, nothing_done, internal_bar):
    at = timezone.now() - timedelta(hours=1)
    finished_backfill(at)
    window("passed", at + timedelta(minutes=20))
    run = ValidationRun.objects.create(started_at=at + timedelta(minutes=1), passed=False)
    ValidationCheck.objects.create(
        run=run, position=1, key="server_id_population", section="2.2", label="1. server_id population",
        passed=False, value="775 of 1000 sales have server_id (77.5 %)", expected="with_server_id > 95 % of total",
        sql="SELECT 1",
    )  # fmt: skip
    refused = closed(owner)
    assert list(refused) == [gates.VALIDATION_PASSED]
    assert "77.5 %" in refused[gates.VALIDATION_PASSED].why and "95 %" in refused[gates.VALIDATION_PASSED].why
    assert refused[gates.VALIDATION_PASSED].evidence_url == f"/validation/{run.pk}/"


def test_a_validation_older_than_the_backfill_does_not_count(owner, fresh_run, nothing_done, internal_bar):
    at = timezone.now() - timedelta(hours=1)
    ValidationRun.objects.create(started_at=at - timedelta(minutes=30), passed=True)
    finished_backfill(at)
    window("passed", at + timedelta(minutes=5))
    assert "run it again" in closed(owner)[gates.VALIDATION_PASSED].why


def test_a_running_backfill_or_a_dry_run_does_not_count(owner, fresh_run, nothing_done, internal_bar):
    BackfillRun.objects.create(status=BackfillRun.Status.FINISHED, dry_run=True, configured_batch_size=1, batch_size=1)
    assert "No backfill over every bar" in closed(owner)[gates.BACKFILL_FINISHED].why
    BackfillRun.objects.create(status=BackfillRun.Status.RUNNING, configured_batch_size=1, batch_size=1,
                               rows_total=200, rows_done=50)  # fmt: skip
    assert "is running (25 % done)" in closed(owner)[gates.BACKFILL_FINISHED].why


@pytest.mark.parametrize(("verdict", "why"), [("pending", "running until"), ("failed", "failed"),
                                              ("inconclusive", "inconclusive")])  # fmt: skip
def test_the_phase_3_window_must_have_passed(owner, fresh_run, nothing_done, internal_bar, verdict, why):
    at = timezone.now() - timedelta(hours=1)
    finished_backfill(at)
    ValidationRun.objects.create(started_at=at + timedelta(minutes=1), passed=True)
    window(verdict, at + timedelta(minutes=2))
    refused = closed(owner)
    assert list(refused) == [gates.PHASE3_WINDOW_PASSED] and why in refused[gates.PHASE3_WINDOW_PASSED].why


def test_a_waived_deployment_check_opens_no_gate(owner, fresh_run, nothing_done, internal_bar):
    meet_runbook_prerequisites()
    PhaseWindow.objects.all().delete()
    runs.waive_step(actor=owner, step=RunbookStep.DEPLOY_CHECK, reason="deployed by hand")
    assert gates.PHASE3_WINDOW_PASSED in closed(owner)


def test_with_all_three_met_4a_starts_and_the_advance_records_them(owner, fresh_run, internal_bar):
    result = advance(owner)
    assert result.applied and state().stage == "4a"
    recorded = RolloutEvent.objects.get(kind=EventKind.STAGE_ADVANCE).after["gates"]
    assert {gate["name"] for gate in recorded} >= set(PREREQUISITES) and all(gate["passed"] for gate in recorded)


def test_the_prerequisites_are_asked_only_before_4a(owner, fresh_run, internal_bar):
    BarFactory.create_batch(10)
    advance(owner)
    BackfillRun.objects.all().delete()
    backdate_soak()
    meet_4a_checklist()
    assert advance(owner).applied and state().stage == "4b"


def test_an_override_needs_the_permission_and_a_reason_and_is_audited(owner, fresh_run, nothing_done,
                                                                      internal_bar):  # fmt: skip
    plain = grant_owner(make_product(username="no_override"))
    with pytest.raises(errors.NotAllowed):
        advance(plain, override_reason="the CEO wants it")
    assert state().stage == "off" and not RolloutEvent.objects.exists()
    assert advance(owner, override_reason="Validation rerun tomorrow; internal bars only").applied
    override = RolloutEvent.objects.get(kind=EventKind.GATE_OVERRIDE)
    assert set(override.after["overridden"]) == set(PREREQUISITES) and override.is_override
    assert override.reason == "Validation rerun tomorrow; internal bars only"
    assert PanelEvent.objects.filter(action="rollout.gate_override", actor=owner).exists()


def test_stage_4a_waits_for_phase_1_and_says_what_is_missing(owner, fresh_run):
    """Issue 21: stage 4a needs Phase 1 done (backup read back, flags off, load test and rehearsal passed)."""
    from rollout.errors import GateClosed
    from rollout.models import RunbookRun, RunbookStep

    BarFactory(is_internal=True)
    RunbookRun.objects.filter(step=RunbookStep.LOAD_TEST).update(status=RunbookRun.Status.WAIVED, reason="no time")
    with pytest.raises(GateClosed) as closed:
        advance(owner)
    assert "Phase 1 is not done: RLS load test (waived)" in str(closed.value)
    assert advance(owner, override_reason="load test run by hand on staging").applied
