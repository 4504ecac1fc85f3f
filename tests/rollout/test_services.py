import pytest

from adminpanel.models import PanelEvent
from rollout import errors
from rollout.flags import services as flag_services
from rollout.flags.selectors import is_enabled
from rollout.killswitch import services as kill_switch_services
from rollout.models import EventKind, FeatureFlag, RolloutBarChange, RolloutEvent
from rollout.stages import services as stage_services
from tests.factories import BarFactory, advance, backdate_soak, meet_4a_checklist, mode, state


def test_a_flag_is_on_for_a_bar_when_global_or_allow_listed_and_never_when_killed(owner, enable_flag, bar, other_bar):
    assert not is_enabled(enable_flag, bar)
    flag_services.change_allow_list(actor=owner, flag_key=enable_flag.key, bar=bar, add=True, reason="pilot")
    assert is_enabled(enable_flag.key, bar) and not is_enabled(enable_flag.key, other_bar)
    flag_services.flip_flag(actor=owner, flag_key=enable_flag.key, state="global", reason="go")
    assert is_enabled(enable_flag.key, other_bar)
    flag_services.flip_flag(actor=owner, flag_key=enable_flag.key, state="off", reason="stop")
    assert not is_enabled(enable_flag.key, bar) and not is_enabled(enable_flag.key, other_bar)
    assert enable_flag.allowed_bars.filter(pk=bar.pk).exists()


def test_a_flip_records_who_before_after_and_why(owner, enable_flag):
    flag_services.flip_flag(actor=owner, flag_key=enable_flag.key, state="global", reason="day 3")
    event = RolloutEvent.objects.get(kind=EventKind.FLAG_FLIP)
    assert event.actor == owner and event.flag == enable_flag and event.reason == "day 3"
    assert event.before["state"] == "allow_list" and event.after["state"] == "global"
    assert PanelEvent.objects.filter(action="rollout.flag_flip", reason="day 3").exists()


def test_a_flip_to_the_state_the_flag_already_has_says_so_and_records_nothing(owner, enable_flag):
    first = flag_services.flip_flag(actor=owner, flag_key=enable_flag.key, state="global", reason="go")
    assert first.applied and first.message == "ENABLE_SWITCHING_MODE flipped: now On for every bar."
    version = FeatureFlag.objects.get(pk=enable_flag.pk).version
    again = flag_services.flip_flag(actor=owner, flag_key=enable_flag.key, state="global", reason="go again")
    assert not again.applied
    assert again.message == "ENABLE_SWITCHING_MODE already was On for every bar: nothing changed, nothing recorded."
    assert FeatureFlag.objects.get(pk=enable_flag.pk).version == version
    assert RolloutEvent.objects.filter(kind=EventKind.FLAG_FLIP).count() == 1
    assert not PanelEvent.objects.filter(reason="go again").exists()


def test_a_flip_without_a_reason_is_refused_and_changes_nothing(owner, enable_flag):
    with pytest.raises(errors.InvalidRequest):
        flag_services.flip_flag(actor=owner, flag_key=enable_flag.key, state="global", reason="  ")
    enable_flag.refresh_from_db()
    assert not enable_flag.enabled_globally and not RolloutEvent.objects.exists()


def test_advancing_from_off_switches_the_internal_bars_only(owner, fresh_run):
    internal = BarFactory.create_batch(3, is_internal=True)
    public = BarFactory()
    result = advance(owner)
    assert result.applied and state().stage == "4a"
    assert [mode(bar) for bar in internal] == ["simplified"] * 3
    assert mode(public) is None


def test_advancing_never_switches_bars_set_to_full(owner, fresh_run):
    chose_full = BarFactory(is_internal=True, settings={"operatingMode": "full"})
    advance(owner)
    assert mode(chose_full) == "full"
    assert not RolloutBarChange.objects.filter(bar=chose_full).exists()
    assert not is_enabled("ENABLE_SWITCHING_MODE", chose_full)


def test_advancing_enables_both_flags_for_the_bars_it_switched(owner, fresh_run):
    bar = BarFactory(is_internal=True, settings={"theme": "dark"})
    versions = dict(FeatureFlag.objects.values_list("key", "version"))
    advance(owner)
    assert is_enabled("ENABLE_SWITCHING_MODE", bar) and is_enabled("SHOW_SWITCHING_MODE_UI", bar)
    bar.refresh_from_db()
    assert bar.settings == {"theme": "dark", "operatingMode": "simplified"}
    assert all(flag.version == versions[flag.key] + 1 for flag in FeatureFlag.objects.all())


def test_batches_advance_the_right_number_of_bars_and_finish_the_stage(owner, fresh_run):
    BarFactory.create_batch(25, is_internal=True)
    first = advance(owner, batch_size=10)
    assert first.step.bars_changed == 10 and state().stage == "4a"
    second = advance(owner, batch_size=10)
    assert second.step.bars_changed == 10 and second.step.stage == "4a"
    third = advance(owner, batch_size=10)
    assert third.step.bars_changed == 5 and "complete" in third.message
    assert RolloutBarChange.objects.count() == 25


def test_continuing_a_stage_in_batches_needs_no_new_soak(owner, fresh_run):
    BarFactory.create_batch(4, is_internal=True)
    advance(owner, batch_size=2)
    assert advance(owner, batch_size=2).applied


def test_the_next_stage_switches_its_hash_cohort(owner, fresh_run):
    BarFactory(is_internal=True)  # 4a needs a switched bar whose figures the cohort gate can judge
    bars = BarFactory.create_batch(60)
    advance(owner)
    backdate_soak()
    meet_4a_checklist()
    advance(owner, batch_size=100)  # a larger batch than the runbook's 10: the whole cohort at once
    assert state().stage == "4b"
    from rollout.stages.cohorts import bar_bucket

    assert {bar.pk for bar in bars if mode(bar) == "simplified"} == {bar.pk for bar in bars if bar_bucket(bar.pk) < 50}


def test_4b_goes_in_batches_of_10_bars_unless_told_otherwise(owner, fresh_run, settings):
    """The runbook's 4b: "LIMIT 10 -- Still gradual"."""
    BarFactory(is_internal=True)
    bars = BarFactory.create_batch(60)
    advance(owner)
    backdate_soak()
    meet_4a_checklist()
    first = advance(owner)
    assert state().stage == "4b" and first.applied
    assert sum(1 for bar in bars if mode(bar) == "simplified") == 10
    settings.ROLLOUT_4B_BATCH_SIZE = 0  # 0: the whole stage in one step
    advance(owner)
    from rollout.stages.cohorts import bar_bucket

    assert {bar.pk for bar in bars if mode(bar) == "simplified"} == {bar.pk for bar in bars if bar_bucket(bar.pk) < 50}


def test_an_advance_with_a_stale_version_changes_nothing(owner, fresh_run):
    BarFactory(is_internal=True)
    seen = state().version
    stage_services.advance_stage(actor=owner, expected_version=seen)
    again = stage_services.advance_stage(actor=owner, expected_version=seen)
    assert not again.applied and state().stage == "4a"
    assert RolloutEvent.objects.filter(kind=EventKind.STAGE_ADVANCE).count() == 1


def test_a_paused_rollout_holds_its_stage(owner, fresh_run):
    BarFactory(is_internal=True)
    stage_services.pause_rollout(actor=owner, reason="weekend")
    with pytest.raises(errors.RolloutPaused):
        advance(owner)
    assert state().stage == "off"
    stage_services.resume_rollout(actor=owner, reason="monday")
    assert advance(owner).applied


def test_stage_rollback_restores_null_only_for_bars_this_rollout_changed(owner, fresh_run, enable_flag):
    switched = BarFactory(is_internal=True)
    already_simplified = BarFactory(is_internal=True, settings={"operatingMode": "simplified"})
    hand_listed = BarFactory(is_internal=True)
    flag_services.change_allow_list(actor=owner, flag_key=enable_flag.key, bar=hand_listed, add=True, reason="pilot")
    advance(owner)
    assert mode(hand_listed) == "simplified"
    result = stage_services.rollback_stage(actor=owner, expected_version=state().version, reason="bad numbers")
    assert result.applied and state().stage == "off"
    assert mode(switched) is None and mode(hand_listed) is None
    assert mode(already_simplified) == "simplified"
    assert not is_enabled(enable_flag.key, switched)
    # The allow-list entry a person added stays; the ones the rollout added are gone.
    assert enable_flag.allowed_bars.filter(pk=hand_listed.pk).exists()
    assert not enable_flag.allowed_bars.filter(pk=switched.pk).exists()
    event = RolloutEvent.objects.get(kind=EventKind.STAGE_ROLLBACK)
    assert event.after["bars_restored"] == 2 and event.reason == "bad numbers"


def test_stage_rollback_leaves_earlier_stages_alone(owner, fresh_run):
    internal = BarFactory(is_internal=True)
    public = BarFactory.create_batch(30)
    advance(owner)
    backdate_soak()
    meet_4a_checklist()
    advance(owner)
    stage_services.rollback_stage(actor=owner, expected_version=state().version, reason="4b too early")
    assert state().stage == "4a"
    assert mode(internal) == "simplified"
    assert all(mode(bar) is None for bar in public)


def test_the_kill_switch_turns_both_flags_off_keeping_allow_lists_and_data(owner, fresh_run):
    bar = BarFactory(is_internal=True)
    advance(owner)
    assert kill_switch_services.pull_kill_switch(actor=owner, reason="errors spike")
    assert not is_enabled("ENABLE_SWITCHING_MODE", bar) and not is_enabled("SHOW_SWITCHING_MODE_UI", bar)
    assert all(flag.allowed_bars.filter(pk=bar.pk).exists() for flag in FeatureFlag.objects.all())
    assert mode(bar) == "simplified" and state().paused
    event = RolloutEvent.objects.get(kind=EventKind.KILL_SWITCH)
    assert event.actor == owner and event.reason == "errors spike"
    assert not kill_switch_services.pull_kill_switch(actor=owner, reason="again")


def test_advancing_while_the_kill_switch_is_engaged_is_refused(owner, fresh_run):
    BarFactory(is_internal=True)
    kill_switch_services.pull_kill_switch(actor=owner, reason="stop")
    with pytest.raises(errors.KillSwitchEngaged):
        stage_services.resume_rollout(actor=owner, reason="try")
    with pytest.raises(errors.KillSwitchEngaged):
        advance(owner)
    assert state().stage == "off"


def test_a_product_owner_without_both_flags_cannot_advance(db, fresh_run, enable_flag):
    from guardian.shortcuts import assign_perm

    from tests.factories import make_product

    half_owner = make_product(username="half")
    assign_perm("rollout.flip_flag", half_owner, enable_flag)
    BarFactory(is_internal=True)
    with pytest.raises(errors.NotAllowed):
        advance(half_owner)
    assert state().stage == "off"
