"""The thin entry points: the management command, the Celery task chain, and the panel's control page."""

import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from adminpanel.models import MigrationServerIdLog, PanelEvent
from backfill import tasks
from backfill.backfill import pause_backfill, start_backfill
from backfill.models import BackfillRun
from tests.factories import confirmed_full_backfill, snapshot

pytestmark = pytest.mark.django_db


def test_the_command_backfills_and_reports(scenario):
    out = io.StringIO()
    call_command("backfill_server_id", "--batch-size", "2", stdout=out)
    assert "finished" in out.getvalue() and "unmapped_name: 1" in out.getvalue()
    assert MigrationServerIdLog.objects.count() == 9


def test_the_command_dry_run_writes_nothing(scenario):
    before = snapshot()
    out = io.StringIO()
    call_command("backfill_server_id", "--dry-run", stdout=out)
    assert "(dry run)" in out.getvalue()
    assert snapshot() == before


def test_the_command_limited_to_one_bar(scenario, other_bar):
    call_command("backfill_server_id", "--bar", str(other_bar.pk), stdout=io.StringIO())
    assert MigrationServerIdLog.objects.count() == 0
    call_command("backfill_server_id", "--bar", str(scenario.bar.pk), stdout=io.StringIO())
    assert set(MigrationServerIdLog.objects.values_list("bar_id", flat=True)) == {scenario.bar.pk}


def test_the_command_refuses_an_unknown_bar(db):
    with pytest.raises(CommandError, match="no bar"):
        call_command("backfill_server_id", "--bar", "not-a-uuid", stdout=io.StringIO())


def test_the_celery_chain_runs_one_short_slice_per_task_until_done(scenario, eager_celery, settings, monkeypatch):
    settings.BACKFILL_TASK_SECONDS = 1e-9  # every slice hands over after one batch
    slices = []
    real = tasks.run_batches

    def counting(**kwargs):
        piece = real(**kwargs)
        slices.append(piece.batches)
        return piece

    monkeypatch.setattr(tasks, "run_batches", counting)
    run = start_backfill(batch_size=2, via=BackfillRun.Via.TASK)
    tasks.enqueue_backfill(run.pk)
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.FINISHED
    assert len(slices) > 3 and max(slices) == 1
    assert MigrationServerIdLog.objects.count() == run.rows_total


def test_the_task_is_late_acked_because_it_is_idempotent():
    assert tasks.backfill_step.acks_late is True
    assert tasks.backfill_step.reject_on_worker_lost is True


def test_a_second_driver_of_the_same_run_does_nothing(scenario):
    from django.db import connections

    from backfill.backfill import run_batches
    from backfill.ranges import LOCK_KEY

    run = start_backfill()
    other_session = connections.create_connection("default")  # e.g. a redelivered task on another worker
    try:
        other_session.cursor().execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_KEY, run.pk])
        piece = run_batches(run_id=run.pk)
    finally:
        other_session.close()
    assert piece.drove is False and piece.batches == 0
    assert MigrationServerIdLog.objects.count() == 0


# --- The panel page ---------------------------------------------------------------------------------------


def test_a_product_owner_starts_a_run_from_the_panel_and_it_completes(scenario, product_user, client_for, eager_celery):
    client = client_for(product_user)
    response = confirmed_full_backfill(client, {"batch_size": "3"})
    assert response.status_code == 302
    run = BackfillRun.objects.get()
    assert run.status == BackfillRun.Status.FINISHED and run.started_by == product_user
    assert run.started_via == BackfillRun.Via.PANEL
    assert MigrationServerIdLog.objects.count() == run.rows_done == 9
    assert PanelEvent.objects.filter(action="backfill.start", actor=product_user).exists()


def test_a_product_owner_can_start_a_one_bar_dry_run(scenario, product_user, client_for, eager_celery):
    before = snapshot()
    client_for(product_user).post(
        reverse("backfill:backfill_start"), {"bar": str(scenario.bar.pk), "dry_run": "on", "batch_size": "100"}
    )
    run = BackfillRun.objects.get()
    assert run.dry_run and run.bar == scenario.bar and run.status == BackfillRun.Status.FINISHED
    assert snapshot() == before


def test_the_progress_partial_polls_while_running_and_shows_rate_eta_and_fallbacks(scenario, support_user, client_for):
    run = start_backfill(batch_size=2)
    from backfill.backfill import run_batches

    run_batches(run_id=run.pk, max_batches=2)
    url = reverse("backfill:backfill_progress", args=[run.pk])
    response = client_for(support_user).get(url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'hx-trigger="every 2s"' in html
    assert "rows/s" in html and "time left" in html and "fallback used" in html
    assert "4 / 9" in html
    assert "Pause" not in html  # support sees no control


def test_pause_and_resume_by_a_product_owner(scenario, product_user, client_for, eager_celery):
    run = start_backfill(batch_size=2)
    client = client_for(product_user)
    response = client.post(reverse("backfill:backfill_pause", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "Paused" in response.content.decode()
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.PAUSED
    assert 'hx-trigger="every' not in response.content.decode()  # polling stops while paused
    client.post(reverse("backfill:backfill_resume", args=[run.pk]))
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.FINISHED
    assert set(PanelEvent.objects.values_list("action", flat=True)) >= {"backfill.pause", "backfill.resume"}


@pytest.mark.parametrize("action", ["start", "pause", "resume"])
def test_support_users_cannot_start_pause_or_resume_and_nothing_changes(scenario, support_user, client_for, action):
    run = start_backfill(batch_size=2)
    if action == "resume":
        pause_backfill(run=run)
    run.refresh_from_db()
    before_status, before_runs, before_state = run.status, BackfillRun.objects.count(), snapshot()
    if action == "start":
        url = reverse("backfill:backfill_start")
    else:
        url = reverse(f"backfill:backfill_{action}", args=[run.pk])
    response = client_for(support_user).post(url, {"batch_size": "2"})
    assert response.status_code == 403
    run.refresh_from_db()
    assert (run.status, BackfillRun.objects.count(), snapshot()) == (before_status, before_runs, before_state)


def test_bar_managers_see_nothing_of_the_backfill(scenario, manager, client_for):
    run = start_backfill()
    client = client_for(manager)
    for url in (reverse("backfill:backfill"), reverse("backfill:backfill_progress", args=[run.pk])):
        assert client.get(url).status_code == 403
    assert client.post(reverse("backfill:backfill_start")).status_code == 403
    assert client.post(reverse("backfill:backfill_pause", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.RUNNING


def test_the_control_page_shows_the_start_form_to_product_owners_only(db, product_user, support_user, client_for):
    assert "Start backfill" in client_for(product_user).get(reverse("backfill:backfill")).content.decode()
    assert "Start backfill" not in client_for(support_user).get(reverse("backfill:backfill")).content.decode()


def test_starting_while_a_run_is_live_says_so(scenario, product_user, client_for):
    start_backfill()
    response = client_for(product_user).post(reverse("backfill:backfill_start"), follow=True)
    assert "already running" in response.content.decode()
    assert BackfillRun.objects.count() == 1
