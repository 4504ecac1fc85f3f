"""Asking for runbook steps, running them through Celery, waivers and the CI record: who may, and the audit."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import PanelEvent
from rollout import errors, tasks
from rollout.models import EventKind, RolloutEvent, RunbookRun, RunbookStep
from rollout.runbook import runs

pytestmark = pytest.mark.runs_phase1


def test_support_and_managers_may_not_run_or_waive_steps(support_user, manager):
    for user in (support_user, manager):
        with pytest.raises(errors.NotAllowed):
            runs.request_run(actor=user, step=RunbookStep.FLAGS_OFF)
        with pytest.raises(errors.NotAllowed):
            runs.waive_step(actor=user, step=RunbookStep.BACKUP, reason="in a hurry")
        with pytest.raises(errors.NotAllowed):
            runs.record_ci_run(actor=user, url="https://ci.example.com/1", passed=True)
    assert not RunbookRun.objects.exists() and not RolloutEvent.objects.filter(kind=EventKind.RUNBOOK).exists()


@pytest.mark.parametrize("user_fixture", ["support_user", "manager", "plain_user"])
def test_the_step_views_refuse_everyone_but_product_owners_and_change_nothing(request, client_for, user_fixture):
    client = client_for(request.getfixturevalue(user_fixture))
    events = PanelEvent.objects.count()
    assert client.post(reverse("rollout:runbook_run_step", args=["flags_off"])).status_code == 403
    assert client.post(reverse("rollout:runbook_waive", args=["backup"]), {"reason": "x"}).status_code == 403
    assert client.post(reverse("rollout:runbook_ci"), {"url": "https://ci/1", "result": "passed"}).status_code == 403
    assert client.post(reverse("rollout:cockpit_advance"), {"version": 1, "confirm": "1"}).status_code == 403
    assert not RunbookRun.objects.exists() and PanelEvent.objects.count() == events


def test_a_product_owner_runs_a_step_from_the_cockpit_and_it_is_audited(client_for, owner, eager_celery):
    response = client_for(owner).post(reverse("rollout:runbook_run_step", args=["flags_off"]), follow=True)
    run = RunbookRun.objects.get()
    assert run.status == RunbookRun.Status.PASSED and run.requested_by == owner and run.via == "panel"
    assert "Feature flags verified off: passed" in response.content.decode()
    events = RolloutEvent.objects.filter(kind=EventKind.RUNBOOK).order_by("id")
    assert [e.after["status"] for e in events] == ["queued", "passed"] and events[0].actor == owner
    assert PanelEvent.objects.filter(action="rollout.runbook", actor=owner).count() == 2


def test_risky_steps_need_their_confirmation(client_for, owner, eager_celery):
    client = client_for(owner)
    response = client.post(reverse("rollout:runbook_run_step", args=["rollback_rehearsal"]), follow=True)
    assert "tick the confirmation" in response.content.decode()
    response = client.post(reverse("rollout:runbook_run_step", args=["load_test"]), {"rate": 5, "seconds": 1},
                           follow=True)  # fmt: skip
    assert "tick the confirmation" in response.content.decode()
    assert not RunbookRun.objects.exists()


def test_bad_input_gets_a_message_never_a_500(client_for, owner, eager_celery):
    client = client_for(owner)
    response = client.post(
        reverse("rollout:runbook_run_step", args=["load_test"]), {"rate": "lots", "confirm": "1"}, follow=True
    )
    assert response.status_code == 200 and "Enter a whole number" in response.content.decode()
    assert client.post(reverse("rollout:runbook_run_step", args=["nonsense"])).status_code == 404
    assert client.post(reverse("rollout:runbook_waive", args=["nonsense"]), {"reason": "x"}).status_code == 404
    response = client.post(reverse("rollout:runbook_ci"), {"url": "not a link", "result": "passed"}, follow=True)
    assert response.status_code == 200 and "Enter a valid URL" in response.content.decode()
    assert not RunbookRun.objects.exists()


def test_one_run_of_a_step_at_a_time(owner):
    runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF)
    with pytest.raises(runs.StepAlreadyRunning, match="already running"):
        runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF)
    assert RunbookRun.objects.count() == 1


def test_a_stalled_run_is_replaced_by_a_new_one(owner, settings):
    stale = runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF)
    RunbookRun.objects.filter(pk=stale.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.RUNBOOK_STALLED_AFTER_SECONDS + 5)
    )
    stale.refresh_from_db()
    assert runs.is_stalled(stale)
    fresh = runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF)
    stale.refresh_from_db()
    assert stale.status == RunbookRun.Status.FAILED and "Stalled" in stale.error
    assert fresh.status == RunbookRun.Status.QUEUED
    assert RolloutEvent.objects.filter(kind=EventKind.RUNBOOK).latest("id").after["replaced_stalled"] == [stale.pk]


def test_a_run_is_done_once_even_if_its_task_is_delivered_twice(owner):
    run = runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF)
    assert runs.execute_run(run_id=run.pk).status == RunbookRun.Status.PASSED
    assert runs.execute_run(run_id=run.pk) is None
    assert RolloutEvent.objects.filter(kind=EventKind.RUNBOOK).count() == 2


def test_with_the_broker_down_the_run_fails_at_once_saying_what_to_do(owner, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    run = runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF)
    assert tasks.enqueue_run(run) is False
    run.refresh_from_db()
    assert run.status == RunbookRun.Status.FAILED
    assert "unreachable" in run.summary and "manage.py run_runbook_step flags_off" in run.summary


def test_a_waiver_needs_a_reason_and_is_audited(client_for, owner):
    client = client_for(owner)
    response = client.post(reverse("rollout:runbook_waive", args=["load_test"]), {"reason": "  "}, follow=True)
    assert "needs a reason" in response.content.decode() and not RunbookRun.objects.exists()
    client.post(reverse("rollout:runbook_waive", args=["load_test"]), {"reason": "Load tested on staging"})
    run = RunbookRun.objects.get()
    assert run.status == RunbookRun.Status.WAIVED and run.reason == "Load tested on staging"
    event = RolloutEvent.objects.get(kind=EventKind.RUNBOOK)
    assert event.reason == "Load tested on staging" and event.actor == owner
    assert PanelEvent.objects.get(action="rollout.runbook").reason == "Load tested on staging"


def test_a_running_step_cannot_be_waived(owner):
    runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF)
    with pytest.raises(runs.StepAlreadyRunning):
        runs.waive_step(actor=owner, step=RunbookStep.FLAGS_OFF, reason="skip it")


def test_the_ci_run_is_recorded_with_its_link(client_for, owner):
    client_for(owner).post(
        reverse("rollout:runbook_ci"), {"url": "https://ci.example.com/runs/42", "result": "failed", "note": "lint"}
    )
    run = RunbookRun.objects.get(step=RunbookStep.TEST_SUITE)
    assert run.status == RunbookRun.Status.FAILED and run.result == {"url": "https://ci.example.com/runs/42",
                                                                       "passed": False}  # fmt: skip
    assert RolloutEvent.objects.get(kind=EventKind.RUNBOOK).after["status"] == "failed"


def test_the_run_page_shows_the_evidence_in_words(client_for, owner, support_user):
    run = runs.execute_run(run_id=runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF).pk)
    page = client_for(support_user).get(reverse("rollout:runbook_run", args=[run.pk])).content.decode()
    assert "Flags read from the database" in page and "ENABLE_SWITCHING_MODE" in page
    assert "manage.py run_runbook_step flags_off" in page


@pytest.mark.django_db(transaction=True)
def test_a_long_quiet_step_keeps_its_heartbeat_so_it_is_never_taken_for_stalled(owner):
    old = timezone.now() - timedelta(hours=1)
    run = RunbookRun.objects.create(step=RunbookStep.BACKUP, status="running", started_at=old, heartbeat_at=old)
    beat = runs.Heartbeat(run.pk, every=0.05)
    try:
        deadline = timezone.now() + timedelta(seconds=10)
        while RunbookRun.objects.get(pk=run.pk).heartbeat_at == old and timezone.now() < deadline:
            beat.stopped.wait(0.05)
    finally:
        beat.stop()
    run.refresh_from_db()
    assert run.heartbeat_at > old and not runs.is_stalled(run) and not beat.thread.is_alive()
