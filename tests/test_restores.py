"""Restoring the Phase 1 backup (issue 20, DESIGN §1): the dry run of Phase 2 and the restore rehearsal on a scratch
database, compared table by table with the checksums read in pg_dump's own snapshot; the sha256 binding between a
file and its dry run; Phase 1's gate before Phase 2; and the database rollback of Option C (kill switch, window,
second person), which restores BarTender's schemas, applies migrations 1-5 again and keeps the panel's history.

These tests commit (pg_dump and pg_restore are other sessions); the six steps are in place again afterwards."""

import shutil
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import PanelEvent
from backfill.models import MigrationStepRun
from backfill.phase2 import runner
from backfill.phase2 import services as phase2
from backfill.phase2.steps import STEPS
from demo.seeding import seed_demo
from monitoring.models import Incident
from rollout import errors
from rollout.backups import archive, dumps, restores
from rollout.killswitch.services import pull_kill_switch
from rollout.models import DatabaseRestore, EventKind, RolloutEvent
from rollout.runbook import phase2_gate
from tests.factories import make_product, make_support

pytestmark = pytest.mark.django_db(transaction=True)


def _scalar(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@pytest.fixture
def six_steps_afterwards():
    """Whatever a test does to Phase 2, every step is applied again afterwards (the suite's state)."""
    yield
    runner.apply_all()


@pytest.fixture
def backup_dir(settings, tmp_path):
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


def _user(*perms, username):
    from django.contrib.auth.models import Permission

    user = make_product(username=username)
    for perm in perms:
        user.user_permissions.add(Permission.objects.get(content_type__app_label="rollout", codename=perm))
    return type(user).objects.get(pk=user.pk)


def _backup():
    return dumps.take_backup(run=None, progress=lambda pct, note: None)


def _before_phase2():
    for step in reversed(STEPS):
        runner.rollback_step(step.version)


def _scratch_exists() -> bool:
    return _scalar("SELECT count(*) FROM pg_database WHERE datname = %s", [archive.scratch_name()]) > 0


def test_the_rehearsal_gives_every_row_back_and_a_difference_fails_it(backup_dir):
    seed_demo(bars=4, sales=300, seed=3)
    sales = _scalar("SELECT count(*) FROM public.sales")
    backup = _backup()
    assert backup.verified and backup.checksums["public.sales"]["rows"] == sales > 0
    assert backup.checksums["auth.users"]["rows"] == _scalar("SELECT count(*) FROM auth.users")
    assert not any(table.startswith("bartender_admin.") for table in backup.checksums)
    owner = _user("trigger_rollback", username="rehearser")

    restore = restores.request_scratch_restore(actor=owner, kind=DatabaseRestore.Kind.REHEARSAL)
    restore = restores.execute_restore(restore_id=restore.pk)
    assert restore.status == DatabaseRestore.Status.PASSED, restore.error
    by_table = {row["table"]: row for row in restore.tables}
    assert by_table["public.sales"] == {
        "table": "public.sales", "expected_rows": sales, "found_rows": sales, "match": True,
    }  # fmt: skip
    assert set(by_table) == set(backup.checksums) and not restore.mismatches
    assert restore.database == archive.scratch_name() and not _scratch_exists()
    assert restores.execute_restore(restore_id=restore.pk) is None  # a redelivered task does nothing

    # The comparison can fail: figures the archive does not give back are named, table by table.
    backup.checksums["public.sales"]["checksum"] = "12345"
    backup.save(update_fields=["checksums"])
    again = restores.execute_restore(
        restore_id=restores.request_scratch_restore(actor=owner, kind=DatabaseRestore.Kind.REHEARSAL).pk
    )
    assert again.status == DatabaseRestore.Status.FAILED
    assert [row["table"] for row in again.mismatches] == ["public.sales"] and "1 table(s) differ" in again.error
    assert PanelEvent.objects.filter(action="restore.rehearsal.finish").count() == 2


def test_a_changed_archive_is_refused_before_anything_is_restored(backup_dir):
    backup = _backup()
    owner = _user("trigger_rollback", username="rehearser")
    with open(backup.path, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(archive.RestoreRefused, match="has changed since it was taken"):
        restores.request_scratch_restore(actor=owner, kind=DatabaseRestore.Kind.REHEARSAL)
    assert not DatabaseRestore.objects.exists()
    with pytest.raises(errors.NotAllowed):
        restores.request_scratch_restore(actor=_user(username="nobody_else"), kind=DatabaseRestore.Kind.REHEARSAL)


def test_the_dry_run_applies_the_six_files_to_a_scratch_copy_and_binds_each_to_its_sha256(
    backup_dir, six_steps_afterwards, settings, tmp_path
):
    _before_phase2()
    seed_demo(bars=3, sales=200, seed=4)
    _backup()
    owner = _user("apply_migration", username="deployer")
    # Without a dry run, no file is applied for real.
    assert [b.overridable for b in phase2_gate.blockers(STEPS[0].version)] == [True, True, False]
    with pytest.raises(phase2.Phase2Error, match="has no dry run"):
        phase2_gate.apply_checked(version=STEPS[0].version, actor=owner, override_reason="hurry")

    restore = restores.request_scratch_restore(actor=owner, kind=DatabaseRestore.Kind.DRY_RUN)
    restore = restores.execute_restore(restore_id=restore.pk)
    assert restore.status == DatabaseRestore.Status.PASSED, restore.error
    assert [row["step"] for row in restore.steps] == [1, 2, 3, 4, 5, 6] and all(r["passed"] for r in restore.steps)
    dry = MigrationStepRun.objects.filter(action="dry_run")
    assert dry.count() == 6 and {run.sha256 for run in dry} == {step.read()[1] for step in STEPS}
    assert runner.applied_versions() == set(), "the dry run never touches BarTender's database"

    # Phase 1's gate: no verified backup run, no flags read off; overridden with a reason, on the timeline.
    assert [b.overridable for b in phase2_gate.blockers(STEPS[0].version)] == [True, True]
    with pytest.raises(phase2.Phase2Error, match="override with a reason"):
        phase2_gate.apply_checked(version=STEPS[0].version, actor=owner)
    run = phase2_gate.apply_checked(version=STEPS[0].version, actor=owner, override_reason="Phase 1 done by hand")
    assert run.passed and STEPS[0].version in runner.applied_versions()
    override = RolloutEvent.objects.get(kind=EventKind.GATE_OVERRIDE)
    assert override.reason == "Phase 1 done by hand" and override.actor_name == "deployer"
    assert phase2_gate.blockers(STEPS[1].version) == []  # Phase 2 has started: Phase 1's gate is behind it

    # A file changed since its dry run needs a new one.
    changed = tmp_path / "migrations"
    shutil.copytree(settings.BARTENDER_MIGRATIONS_DIR, changed)
    with open(changed / STEPS[1].filename, "a") as handle:
        handle.write("\n-- edited after the dry run\n")
    settings.BARTENDER_MIGRATIONS_DIR = changed
    with pytest.raises(phase2.Phase2Error, match="has changed since its dry run"):
        phase2_gate.apply_checked(version=STEPS[1].version, actor=owner)
    assert STEPS[1].version not in runner.applied_versions()


def test_the_phase_2_page_offers_the_dry_run_and_says_why_a_step_waits(backup_dir, six_steps_afterwards, client):
    last = STEPS[-1]
    runner.rollback_step(last.version)
    owner = _user("apply_migration", username="deployer")
    client.force_login(owner)
    page = client.get(reverse("rollout:phase2")).content.decode()
    assert 'id="dry-run-start"' in page and 'id="apply-blocked"' in page and "has no dry run" in page
    assert 'id="apply-next"' not in page
    refused = client.post(reverse("rollout:phase2_apply"), {"version": last.version}, follow=True)
    assert "has no dry run" in refused.content.decode() and last.version not in runner.applied_versions()


def test_option_c_restores_bartender_applies_steps_1_to_5_again_and_keeps_the_panel_history(
    backup_dir, six_steps_afterwards, client
):
    _before_phase2()
    seed_demo(bars=3, sales=200, seed=5)
    backup = _backup()
    sales_in_backup = backup.checksums["public.sales"]["rows"]
    runner.apply_all()  # Phase 2 went ahead…
    bar_id = _scalar("SELECT id FROM public.bars LIMIT 1")
    with connection.cursor() as cursor:  # …and BarTender wrote more since the backup: Option C loses it
        cursor.execute("INSERT INTO public.sales (bar_id, amount, server_name) VALUES (%s, 9.5, 'after')", [bar_id])
    requester = _user("trigger_rollback", username="owner_a")
    approver = _user("trigger_rollback", username="owner_b")
    now = timezone.now()

    # No rehearsal, no approval, no kill switch: it cannot start; the same person cannot approve it.
    restore = restores.request_real_restore(actor=requester, backup_id=backup.pk, reason="corrupted server_ids",
                                            window_starts_at=now - timedelta(minutes=1),
                                            window_ends_at=now + timedelta(hours=1))  # fmt: skip
    with pytest.raises(archive.RestoreRefused, match="not the one who asked"):
        restores.approve_real_restore(actor=requester, restore_id=restore.pk)
    with pytest.raises(archive.RestoreRefused) as refused:
        restores.start_real_restore(actor=requester, restore_id=restore.pk)
    assert "second person" in str(refused.value) and "kill switch" in str(refused.value)
    assert "rehearsal" in str(refused.value)
    restores.approve_real_restore(actor=approver, restore_id=restore.pk)
    rehearsal = restores.request_scratch_restore(actor=requester, kind=DatabaseRestore.Kind.REHEARSAL)
    assert restores.execute_restore(restore_id=rehearsal.pk).status == DatabaseRestore.Status.PASSED
    with pytest.raises(archive.RestoreRefused, match="kill switch must be engaged"):
        restores.start_real_restore(actor=requester, restore_id=restore.pk)
    pull_kill_switch(actor=requester, reason="server_ids look corrupted")
    incident = Incident.objects.get(resolved_at__isnull=True)
    panel_events = PanelEvent.objects.count()

    restores.start_real_restore(actor=approver, restore_id=restore.pk)
    restore = restores.execute_restore(restore_id=restore.pk)
    assert restore.status == DatabaseRestore.Status.PASSED, restore.error
    assert _scalar("SELECT count(*) FROM public.sales") == sales_in_backup
    assert _scalar("SELECT count(*) FROM public.sales WHERE server_name = 'after'") == 0
    assert not restore.mismatches and {row["table"] for row in restore.tables} >= {"public.sales", "auth.users"}
    assert runner.applied_versions() == {step.version for step in STEPS[:5]}, "steps 1-5 again, never step 6"
    assert [(r["action"], r["step"]) for r in restore.steps] == (
        [("rollback", n) for n in (6, 5, 4, 3, 2, 1)] + [("apply", n) for n in (1, 2, 3, 4, 5)]
    )
    # The panel's history is its own schema's: kept, and told what happened.
    assert PanelEvent.objects.count() > panel_events
    event = RolloutEvent.objects.get(kind=EventKind.DATABASE_RESTORE)
    assert event.after["restore"] == restore.pk and event.after["approved_by"] == "owner_b"
    assert "Option C" in incident.updates.get().message
    assert DatabaseRestore.objects.filter(pk=rehearsal.pk, status="passed").exists()


def test_option_c_is_asked_approved_and_started_only_by_holders_of_trigger_rollback(backup_dir, client):
    backup = _backup()
    plain = make_product(username="no_rollback")
    support = make_support(username="support_r")
    client.force_login(plain)
    window = {"window_starts_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
              "window_ends_at": (timezone.localtime() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")}  # fmt: skip
    asked = client.post(reverse("rollout:restore_real"), {"backup": backup.pk, "reason": "x", **window})
    assert asked.status_code == 403 and not DatabaseRestore.objects.exists()
    scratch = client.post(reverse("rollout:restore_scratch"), {"kind": "rehearsal"})
    assert scratch.status_code == 403 and not DatabaseRestore.objects.exists()
    page = client.get(reverse("rollout:restores")).content.decode()
    assert 'id="option-c-form"' not in page and "rollout.trigger_rollback" in page

    owner = _user("trigger_rollback", username="owner_a")
    client.force_login(owner)
    bad = client.post(reverse("rollout:restore_real"), {"backup": backup.pk, "reason": "x",
                                                         "window_starts_at": "tomorrow", "window_ends_at": ""},
                      follow=True)  # fmt: skip
    assert bad.status_code == 200 and "like 2026-12-05T22:00" in bad.content.decode()
    assert not DatabaseRestore.objects.exists()
    client.post(reverse("rollout:restore_real"), {"backup": backup.pk, "reason": "corruption", **window})
    restore = DatabaseRestore.objects.get()
    assert restore.status == "requested" and restore.requested_by == owner

    client.force_login(plain)
    assert client.post(reverse("rollout:restore_approve", args=[restore.pk])).status_code == 403
    assert client.post(reverse("rollout:restore_start", args=[restore.pk])).status_code == 403
    assert client.post(reverse("rollout:restore_cancel", args=[restore.pk]), {"reason": "x"}).status_code == 403
    client.force_login(support)
    detail = client.get(reverse("rollout:restore", args=[restore.pk])).content.decode()
    assert "a second person must approve it" in detail
    restore.refresh_from_db()
    assert restore.status == "requested" and restore.approved_by is None
    client.force_login(owner)  # the one who asked may cancel it, with a reason
    no_reason = client.post(reverse("rollout:restore_cancel", args=[restore.pk]), {"reason": " "}, follow=True)
    assert "a reason is required" in no_reason.content.decode()
    client.post(reverse("rollout:restore_cancel", args=[restore.pk]), {"reason": "the corruption was a report bug"})
    restore.refresh_from_db()
    assert restore.status == "cancelled" and PanelEvent.objects.filter(action="restore.real.cancel").exists()
