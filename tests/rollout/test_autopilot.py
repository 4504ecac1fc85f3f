"""The autopilot: opt-in by a product owner, advances in its batches when every gate passes, pauses when a
safeguard trips, never skips a stage or goes past 4c, never runs twice at once; clocks are driven (``now=``)."""

import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone
from guardian.shortcuts import remove_perm

from adminpanel.permissions import FLIP_FLAG
from monitoring.models import Alert, CheckStatus, HealthRun
from rollout import errors
from rollout.killswitch import services as kill_switch_services
from rollout.models import EventKind, FeatureFlag, RolloutEvent, RolloutNotification, RolloutState
from rollout.stages import autopilot
from rollout.stages import services as stage_services
from tests.factories import (
    BarFactory,
    advance,
    backdate_soak,
    grant_owner,
    make_product,
    meet_4a_checklist,
    seed_traffic,
    state,
)


@pytest.fixture
def at_4a(owner, fresh_run):
    """4a has run 25 healthy hours on two internal bars; forty bars wait, exactly twenty of them in 4b's hash cohort
    (random ids made the cohort anywhere from about 12 to 28 bars, and a test of three batches of 5 flaky)."""
    import uuid

    from rollout.stages.cohorts import bar_bucket

    BarFactory.create_batch(2, is_internal=True)
    inside, outside = [], []
    while len(inside) < 20 or len(outside) < 20:
        bar_id = uuid.uuid4()
        half = inside if bar_bucket(bar_id) < 50 else outside
        if len(half) < 20:
            half.append(bar_id)
    for bar_id in inside + outside:
        BarFactory(id=bar_id)
    advance(owner)
    backdate_soak()
    meet_4a_checklist()
    return state()


def turn_on(user, batch_size=None):
    return autopilot.enable_autopilot(actor=user, batch_size=batch_size, reason="overnight progression")


def fresh_run_at(now):
    HealthRun.objects.create(started_at=now, finished_at=now, status=CheckStatus.OK)


def advances():
    return list(RolloutEvent.objects.filter(kind=EventKind.STAGE_ADVANCE).order_by("id"))


# --- Opting in --------------------------------------------------------------------------------------------------


def test_a_product_owner_with_flip_flag_on_both_flags_turns_it_on_and_it_is_recorded(owner, at_4a):
    turn_on(owner, batch_size=10)
    row = state()
    assert row.autopilot_enabled and row.autopilot_owner == owner and row.autopilot_batch_size == 10
    event = RolloutEvent.objects.get(kind=EventKind.AUTOPILOT_ON)
    assert (event.actor, event.reason, event.after["batch_size"]) == (owner, "overnight progression", 10)
    assert RolloutNotification.objects.filter(event=event).exists()


@pytest.mark.parametrize("who", ["support", "product_with_one_flag", "product_without_flags"])
def test_anyone_else_is_refused_and_nothing_changes(at_4a, support_user, who):
    user = {
        "support": support_user,
        "product_with_one_flag": grant_owner(make_product(username="one_flag")),
        "product_without_flags": make_product(username="no_flags"),
    }[who]
    if who == "product_with_one_flag":
        remove_perm(FLIP_FLAG, user, FeatureFlag.objects.first())
    events = RolloutEvent.objects.count()
    with pytest.raises(errors.NotAllowed):
        turn_on(user)
    assert not state().autopilot_enabled and RolloutEvent.objects.count() == events


def test_a_reason_is_required_and_a_bad_batch_size_refused(owner, at_4a):
    with pytest.raises(errors.InvalidRequest):
        autopilot.enable_autopilot(actor=owner, batch_size=None, reason="  ")
    with pytest.raises(errors.InvalidRequest):
        autopilot.enable_autopilot(actor=owner, batch_size=0, reason="go")
    assert not state().autopilot_enabled


def test_the_view_refuses_a_user_without_the_permission_and_changes_nothing(client_for, support_user, at_4a):
    response = client_for(support_user).post("/rollout/autopilot/on/", {"reason": "go", "confirm": "on"})
    assert response.status_code == 403 and not state().autopilot_enabled


def test_the_view_needs_the_confirmation(client_for, owner, at_4a):
    response = client_for(owner).post("/rollout/autopilot/on/", {"reason": "go"}, follow=True)
    assert "Tick the confirmation" in response.content.decode() and not state().autopilot_enabled
    client_for(owner).post("/rollout/autopilot/on/", {"reason": "go", "confirm": "on", "batch_size": "5"})
    assert state().autopilot_enabled and state().autopilot_batch_size == 5


# --- Ticks ------------------------------------------------------------------------------------------------------


def test_a_tick_does_nothing_while_the_autopilot_is_off(at_4a):
    assert autopilot.tick().action == autopilot.OFF
    assert state().stage == "4a" and len(advances()) == 1


def test_when_every_gate_passes_it_advances_by_itself_with_the_gates_evidence(owner, at_4a, settings):
    turn_on(owner)
    result = autopilot.tick()
    assert result.action == autopilot.ADVANCED and state().stage == "4b"
    event = advances()[-1]
    assert (event.actor_id, event.actor_name) == (None, "autopilot")
    assert (event.stage_before, event.stage_after) == ("4a", "4b")
    gates = {gate["name"]: gate for gate in event.after["gates"]}
    assert all(gate["passed"] for gate in gates.values())
    assert gates["cohort_vs_control"]["evidence"]["verdict"] == "no_harm"
    assert gates["cohort_vs_control"]["evidence"]["switched"]["sales"] == 250
    assert RolloutNotification.objects.filter(event=event).exists()


def test_an_automatic_step_is_notified_like_an_alert(owner, at_4a, settings, django_capture_on_commit_callbacks):
    settings.ALERT_EMAILS = ["oncall@example.com"]
    turn_on(owner)
    with django_capture_on_commit_callbacks(execute=True):
        autopilot.tick()
    subjects = [message.subject for message in mail.outbox]
    assert any("autopilot: stage advanced" in subject and "4a → 4b" in subject for subject in subjects)
    assert not RolloutNotification.objects.filter(notified_at__isnull=True).exists()


def test_a_failing_channel_keeps_the_notification_for_the_next_tick(owner, at_4a, settings):
    settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/unreachable"
    settings.ALERT_NOTIFY_ATTEMPTS, settings.ALERT_NOTIFY_RETRY_DELAY, settings.ALERT_WEBHOOK_TIMEOUT = 1, 0, 1
    turn_on(owner)
    assert autopilot.deliver_notifications() == 0
    pending = RolloutNotification.objects.get()
    assert pending.notified_at is None and pending.attempts == 1 and "webhook" in pending.last_error
    settings.ALERT_WEBHOOK_URL = ""
    assert autopilot.deliver_notifications() == 1


def test_it_never_skips_a_stage_and_stops_itself_after_4c(owner, at_4a, settings):
    settings.ROLLOUT_COHORT_GATE_NEEDS_DATA = False  # this test is about the order of stages, not the figures
    turn_on(owner)
    now = timezone.now()
    actions = []
    for hours in (0, 1, 26, 27, 60, 61):
        at = now + timedelta(hours=hours)
        fresh_run_at(at)
        actions.append(autopilot.tick(now=at).action)
    assert actions == ["advanced", "waiting", "advanced", "finished", "off", "off"]
    assert [(e.stage_before, e.stage_after) for e in advances()] == [("off", "4a"), ("4a", "4b"), ("4b", "4c")]
    assert not state().autopilot_enabled
    off = RolloutEvent.objects.get(kind=EventKind.AUTOPILOT_OFF)
    assert off.actor_name == "autopilot" and "4c is complete" in off.reason


def test_it_advances_in_its_batches_with_a_pause_between_them(owner, at_4a, settings):
    settings.ROLLOUT_COHORT_GATE_NEEDS_DATA = False
    settings.ROLLOUT_AUTOPILOT_BATCH_SOAK_MINUTES = 60
    turn_on(owner, batch_size=5)
    now = timezone.now()
    steps, messages = [], []
    for minutes in (0, 30, 61, 62, 125):
        at = now + timedelta(minutes=minutes)
        fresh_run_at(at)
        result = autopilot.tick(now=at)
        steps.append((result.action, state().stage))
        messages.append(result.message)
    assert steps == [
        ("advanced", "4b"), ("waiting", "4b"), ("advanced", "4b"), ("waiting", "4b"), ("advanced", "4b")
    ]  # fmt: skip
    assert [e.after["bars_changed"] for e in advances()[1:]] == [5, 5, 5]
    assert "The last batch ran 30 min ago; the autopilot waits 60 min." in messages[1]


def test_it_waits_on_a_closed_gate_and_says_which(owner, at_4a):
    HealthRun.objects.all().delete()
    turn_on(owner)
    result = autopilot.tick()
    assert result.action == autopilot.WAITING and "fresh health run" in result.message
    assert state().stage == "4a" and not state().paused
    assert "Waiting for fresh health run" in state().autopilot_note


def test_a_tripped_safeguard_pauses_the_rollout_and_it_never_resumes_it(owner, at_4a):
    turn_on(owner)
    Alert.objects.create(
        check_name="orphaned_sales", severity=CheckStatus.CRITICAL, safeguard_tripped_at=timezone.now()
    )
    result = autopilot.tick()
    assert result.action == autopilot.PAUSED and state().paused and state().stage == "4a"
    event = RolloutEvent.objects.get(kind=EventKind.STAGE_PAUSE)
    assert event.actor_name == "autopilot" and "critical alert on orphaned_sales" in event.reason
    assert event.after["evidence"]["alerts"][0]["check"] == "orphaned_sales"
    Alert.objects.update(state=Alert.State.RESOLVED)
    assert autopilot.tick().action == autopilot.HOLDING
    assert state().paused and RolloutEvent.objects.filter(kind=EventKind.STAGE_PAUSE).count() == 1


def test_a_critical_blip_that_has_not_tripped_only_makes_it_wait(owner, at_4a):
    turn_on(owner)
    Alert.objects.create(check_name="db_connections", severity=CheckStatus.CRITICAL)  # 1 of 2 failing runs
    result = autopilot.tick()
    assert result.action == autopilot.WAITING and not state().paused


def test_harm_to_the_switched_bars_pauses_the_rollout_with_the_figures(owner, fresh_run):
    BarFactory.create_batch(2, is_internal=True)
    BarFactory.create_batch(40)
    advance(owner)
    backdate_soak(traffic=None)
    seed_traffic(switched=400, control=800, switched_coverage=0.9)
    turn_on(owner)
    result = autopilot.tick()
    assert result.action == autopilot.PAUSED and state().stage == "4a"
    event = RolloutEvent.objects.get(kind=EventKind.STAGE_PAUSE)
    assert event.reason == "Safeguard tripped: harm: coverage 90.0 % vs 100.0 %, p < 0.001."
    assert event.after["evidence"]["switched"]["with_server"] == 360


def test_it_holds_while_the_kill_switch_is_engaged(owner, at_4a):
    turn_on(owner)
    kill_switch_services.pull_kill_switch(actor=owner, reason="errors")
    with pytest.raises(errors.KillSwitchEngaged):  # resuming waits for the release...
        stage_services.resume_rollout(actor=owner, reason="investigating with the switch still on")
    RolloutState.objects.filter(pk=RolloutState.SINGLETON_ID).update(paused=False)  # ...even if unpaused by hand
    assert autopilot.tick().action == autopilot.HOLDING and state().stage == "4a"


def test_it_turns_itself_off_when_its_owner_loses_the_permission(owner, at_4a):
    turn_on(owner)
    remove_perm(FLIP_FLAG, owner, FeatureFlag.objects.first())
    result = autopilot.tick()
    assert result.action == autopilot.STOPPED and not state().autopilot_enabled and state().stage == "4a"
    assert RolloutEvent.objects.get(kind=EventKind.AUTOPILOT_OFF).actor_name == "autopilot"


# --- Manual control ---------------------------------------------------------------------------------------------


def test_taking_manual_control_is_one_click_and_changes_nothing_else(client_for, owner, at_4a):
    turn_on(owner)
    version = state().version
    response = client_for(owner).post("/rollout/autopilot/off/")
    assert response.status_code == 302
    assert not state().autopilot_enabled and state().stage == "4a" and state().version == version + 1
    event = RolloutEvent.objects.get(kind=EventKind.AUTOPILOT_OFF)
    assert event.actor == owner and event.reason == "Manual control taken."
    assert autopilot.tick().action == autopilot.OFF


def test_taking_manual_control_is_refused_to_readers(client_for, owner, support_user, at_4a):
    turn_on(owner)
    assert client_for(support_user).post("/rollout/autopilot/off/").status_code == 403
    assert state().autopilot_enabled
    with pytest.raises(errors.NotAllowed):
        autopilot.take_manual_control(actor=support_user)


# --- Never twice at once ----------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_beat_ticks_at_once_take_one_step(owner):
    HealthRun.objects.create(started_at=timezone.now(), finished_at=timezone.now(), status=CheckStatus.OK)
    BarFactory.create_batch(2, is_internal=True)
    BarFactory.create_batch(20)
    advance(owner)
    backdate_soak()
    meet_4a_checklist()
    turn_on(owner)
    barrier = threading.Barrier(2)
    actions, errors = [], []

    def beat_tick():
        try:
            barrier.wait(timeout=10)
            actions.append(autopilot.tick().action)
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=beat_tick) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(actions)[0] == "advanced" and sorted(actions)[1] in {"busy", "waiting"}
    assert state().stage == "4b" and len(advances()) == 2  # 4a by hand, 4b by the autopilot: once


# --- The page and the schedule ----------------------------------------------------------------------------------


def test_the_page_shows_the_next_automatic_step_and_the_manual_control_button(client_for, owner, at_4a, settings):
    settings.ROLLOUT_SOAK_HOURS = {"4a": 24, "4b": 24, "4c": 24}
    turn_on(owner)
    autopilot.tick()  # → 4b; the next step waits for 4b's soak
    page = client_for(owner).get("/rollout/").content.decode()
    assert 'id="autopilot-state" data-enabled="true"' in page
    assert "Next automatic step at" in page and 'id="take-manual-control"' in page
    soak_end = (state().soak_started_at + timedelta(hours=24)).strftime("%Y-%m-%d %H:%M")
    assert soak_end in page


def test_readers_see_the_autopilot_but_no_button(client_for, owner, support_user, at_4a):
    turn_on(owner)
    page = client_for(support_user).get("/rollout/").content.decode()
    assert 'data-enabled="true"' in page and "take-manual-control" not in page


def test_the_page_offers_the_autopilot_with_its_blast_radius_when_off(client_for, owner, at_4a):
    page = client_for(owner).get("/rollout/").content.decode()
    assert 'id="autopilot-form"' in page and "to 4c by itself" in page and "Take manual control" in page


def test_the_beat_schedule_ticks_with_an_expiry_shorter_than_its_interval(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["rollout-autopilot-tick"]
    assert entry["task"] == "rollout.autopilot_tick"
    assert 0 < entry["options"]["expires"] < entry["schedule"]
    from rollout.tasks import autopilot_tick

    assert autopilot_tick.name == "rollout.autopilot_tick"


def test_the_task_runs_one_tick(owner, at_4a):
    from rollout.tasks import autopilot_tick

    turn_on(owner)
    assert autopilot_tick.apply().get() == "advanced" and state().stage == "4b"
    assert RolloutState.objects.get().autopilot_last_tick_at is not None
