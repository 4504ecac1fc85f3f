"""Runbook 1.3 (flags verified off from the database) and 1.1's rollback rehearsal with checksums."""

import pytest

from adminpanel.models import Bar, Sale, User
from monitoring.models import Incident, IncidentNotification
from rollout.flags import services
from rollout.models import EventKind, FeatureFlag, RolloutEvent, RolloutState, RunbookRun, RunbookStep
from rollout.runbook import phase1
from rollout.runbook import runs as runbook_runs
from tests.factories import BarFactory, advance, grant_owner, make_product, meet_phase1, state

pytestmark = pytest.mark.runs_phase1


def run_step(actor, step, **kwargs):
    run = runbook_runs.request_run(actor=actor, step=step, confirm=True, **kwargs)
    return runbook_runs.execute_run(run_id=run.pk)


def test_flags_off_passes_when_both_flags_are_off_and_nothing_is_allow_listed(owner):
    run = run_step(owner, RunbookStep.FLAGS_OFF)
    assert run.status == RunbookRun.Status.PASSED
    assert "Both flags off for every bar, no bar allow-listed" in run.summary
    assert set(run.result["flags"]) == {"ENABLE_SWITCHING_MODE", "SHOW_SWITCHING_MODE_UI"}
    assert run.result["read_at"]


def test_flags_off_fails_when_a_bar_is_allow_listed(owner, enable_flag):
    enable_flag.allowed_bars.add(BarFactory(name="Early bar"))
    run = run_step(owner, RunbookStep.FLAGS_OFF)
    assert run.status == RunbookRun.Status.FAILED
    assert "ENABLE_SWITCHING_MODE is on for 1 allow-listed bar(s)" in run.summary


def test_flags_off_fails_when_a_flag_is_on_for_every_bar(owner, ui_flag):
    services.flip_flag(actor=owner, flag_key=ui_flag.key, state="global", reason="too early")
    run = run_step(owner, RunbookStep.FLAGS_OFF)
    assert run.status == RunbookRun.Status.FAILED and "SHOW_SWITCHING_MODE_UI is on for every bar" in run.summary


def counts():
    return Bar.objects.count(), User.objects.count(), Sale.objects.count()


def test_the_rehearsal_pulls_and_releases_the_kill_switch_and_proves_nothing_changed(owner):
    before = counts()
    version_before = state().version
    run = run_step(owner, RunbookStep.ROLLBACK_REHEARSAL)
    assert run.status == RunbookRun.Status.PASSED, run.summary
    sums = run.result["checksums"]
    assert sums["before"] == sums["during"] == sums["after"] and sums["before"]["sales"] == phase1.REHEARSAL_SALES
    assert all(run.result["flags"]["before"].values()) and not any(run.result["flags"]["during"].values())
    assert run.result["flags"]["after"] == run.result["flags"]["before"]
    # The rehearsal bar is gone, the flags and the rollout are as they were, and the timeline shows it all.
    assert counts() == before
    assert not FeatureFlag.objects.filter(kill_switch_engaged=True).exists()
    assert not FeatureFlag.objects.filter(enabled_globally=True).exists()
    assert not state().paused and state().version > version_before
    kinds = list(RolloutEvent.objects.order_by("id").values_list("kind", flat=True))
    assert EventKind.KILL_SWITCH in kinds and kinds.count(EventKind.KILL_SWITCH_RELEASE) == 1
    # A rehearsal is a rehearsal (DESIGN §4d): no incident opened, nobody paged.
    assert not Incident.objects.exists() and not IncidentNotification.objects.exists()


def test_the_rehearsal_fails_when_data_changes_while_the_switch_is_pulled(owner):
    outcome = phase1.rehearse_rollback(
        actor=owner,
        progress=lambda *a: None,
        while_pulled=lambda bar: Sale.objects.filter(bar=bar).update(server=None),
    )
    assert not outcome.passed and "changed while the switch was pulled" in outcome.summary
    assert not FeatureFlag.objects.filter(kill_switch_engaged=True).exists()
    assert not Bar.objects.filter(name__startswith="Rollback rehearsal bar").exists()


def test_the_rehearsal_releases_the_switch_even_when_it_breaks_midway(owner):
    def boom(bar):
        raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError):
        phase1.rehearse_rollback(actor=owner, progress=lambda *a: None, while_pulled=boom)
    assert not FeatureFlag.objects.filter(kill_switch_engaged=True).exists() and not state().paused
    assert not Bar.objects.filter(name__startswith="Rollback rehearsal bar").exists()


def test_the_rehearsal_is_refused_while_a_stage_is_live(owner, fresh_run):
    meet_phase1()  # stage 4a needs Phase 1 done
    BarFactory(is_internal=True)
    advance(owner)
    runs = RunbookRun.objects.count()
    with pytest.raises(phase1.StepRefused, match="real rollback"):
        runbook_runs.request_run(actor=owner, step=RunbookStep.ROLLBACK_REHEARSAL, confirm=True)
    assert RunbookRun.objects.count() == runs and not FeatureFlag.objects.filter(kill_switch_engaged=True).exists()


def test_the_rehearsal_needs_the_kill_switch_permission(db):
    flipper = grant_owner(make_product(username="flipper"))  # flip_flag on both flags, no trigger_rollback
    with pytest.raises(phase1.StepRefused, match="trigger_rollback"):
        runbook_runs.request_run(actor=flipper, step=RunbookStep.ROLLBACK_REHEARSAL, confirm=True)
    assert not RunbookRun.objects.exists()
    assert RolloutState.objects.get().paused is False
