"""Restoring the Phase 1 backup (DESIGN §1, runbook 2.1 and rollback Option C).

Three uses of one archive:
- the **dry run** of Phase 2: the archive restored into a scratch database, the six migration files applied there
  in order with their timings; applying a file for real needs its dry run passed for the same sha256;
- the **restore rehearsal**: the archive restored into a scratch database and every BarTender table's row count and
  checksum compared with the figures read in the very snapshot pg_dump dumped;
- the **real restore** (Option C, last resort): BarTender's schemas restored in place. It needs the kill switch
  engaged, a declared maintenance window that is open now, a second person's approval and a passed rehearsal of
  the same archive. The applied Phase 2 steps are undone first (down scripts), the archive is restored with
  ``pg_restore --clean`` limited to BARTENDER_SCHEMAS, its checksums compared, and migrations 1–5 applied again
  through the Phase 2 machinery. The panel's own schema is never in the archive: its history stays.

A restore is asked for (permission checked, audited), then executed by a Celery task (rollout/tasks.py) or a test.
"""

import contextlib
import logging
from datetime import timedelta

import psycopg
from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from adminpanel import db_sessions
from adminpanel.audit import record_event
from backfill.phase2 import runner
from backfill.phase2 import services as phase2
from backfill.phase2.steps import BY_VERSION, STEPS, MigrationFileMissing
from monitoring.incidents import selectors as incident_selectors
from rollout import permissions
from rollout.backups import dumps
from rollout.backups.archive import (
    RestoreFailed,
    RestoreRefused,
    checksums_of,
    connect,
    pg_restore,
    scratch_database,
    usable_backup,
)
from rollout.errors import InvalidRequest, NotAllowed
from rollout.events.services import _record
from rollout.killswitch.services import note_on_incident
from rollout.models import DatabaseRestore, EventKind, FeatureFlag, RolloutState
from rollout.stages.services import locked_state

logger = logging.getLogger(__name__)


REAPPLIED_STEPS = STEPS[:5]  # Option C: "Re-apply only safe migrations (1-5)"; step 6 is the backfill.
WINDOW_MAX = timedelta(hours=12)
REASON_MAX = 2000


# --- Asking -----------------------------------------------------------------------------------------------
def _clean_reason(reason: str, *, required: bool) -> str:
    reason = (reason or "").strip()
    if required and not reason:
        raise InvalidRequest("Say why: a reason is required.")
    if len(reason) > REASON_MAX:
        raise InvalidRequest(f"The reason is too long ({len(reason)} characters; at most {REASON_MAX}).")
    return reason


def _refuse_if_busy() -> None:
    busy = DatabaseRestore.objects.filter(status__in=DatabaseRestore.ACTIVE).first()
    if busy is not None:
        raise RestoreRefused(f"{busy.get_kind_display()} #{busy.pk} is {busy.get_status_display().lower()}: one "
                             "restore at a time.")  # fmt: skip


def request_scratch_restore(*, actor, kind: str, backup_id: int | None = None, reason: str = "") -> DatabaseRestore:
    """Queue a dry run of Phase 2 (needs rollout.apply_migration) or a restore rehearsal (rollout.trigger_rollback).
    Both touch only a scratch database."""
    if kind == DatabaseRestore.Kind.DRY_RUN:
        if not permissions.can_apply_migrations(actor):
            raise NotAllowed("The dry run of Phase 2 needs rollout.apply_migration.")
    elif kind == DatabaseRestore.Kind.REHEARSAL:
        if not permissions.can_trigger_rollback(actor):
            raise NotAllowed("The restore rehearsal needs rollout.trigger_rollback.")
    else:
        raise InvalidRequest("Only a dry run or a rehearsal restores into a scratch database.")
    reason = _clean_reason(reason, required=False)
    with transaction.atomic():
        _refuse_if_busy()
        backup = usable_backup(backup_id)
        restore = DatabaseRestore.objects.create(
            kind=kind, backup=backup, requested_by=actor, requested_by_name=actor.username, reason=reason,
            status=DatabaseRestore.Status.QUEUED,
        )  # fmt: skip
        record_event(actor=actor, action=f"restore.{kind}.request", target=restore,
                     after={"backup": backup.file_name, "sha256": backup.sha256}, reason=reason or restore.get_kind_display())  # noqa: E501  # fmt: skip
    return restore


def request_real_restore(
    *, actor, backup_id: int | None, reason: str, window_starts_at, window_ends_at
) -> DatabaseRestore:
    """Option C asked for: the archive, why, and the declared maintenance window. It waits for a second person."""
    if not permissions.can_trigger_rollback(actor):
        raise NotAllowed("Restoring the database (Option C) needs rollout.trigger_rollback.")
    reason = _clean_reason(reason, required=True)
    if window_starts_at is None or window_ends_at is None:
        raise InvalidRequest("Declare the maintenance window: when it starts and when it ends.")
    if window_ends_at <= window_starts_at:
        raise InvalidRequest("The maintenance window must end after it starts.")
    if window_ends_at <= timezone.now():
        raise InvalidRequest("The maintenance window has already ended.")
    if window_ends_at - window_starts_at > WINDOW_MAX:
        raise InvalidRequest("A maintenance window is at most 12 hours long.")
    with transaction.atomic():
        backup = usable_backup(backup_id)
        restore = DatabaseRestore.objects.create(
            kind=DatabaseRestore.Kind.REAL, backup=backup, requested_by=actor, requested_by_name=actor.username,
            reason=reason, window_starts_at=window_starts_at, window_ends_at=window_ends_at,
            status=DatabaseRestore.Status.REQUESTED,
        )  # fmt: skip
        record_event(
            actor=actor, action="restore.real.request", target=restore, reason=reason,
            after={"backup": backup.file_name, "sha256": backup.sha256, "window": [
                window_starts_at.isoformat(), window_ends_at.isoformat()]},
        )  # fmt: skip
    return restore


def _locked(restore_id: int) -> DatabaseRestore:
    restore = DatabaseRestore.objects.select_for_update().filter(pk=restore_id).first()
    if restore is None:
        raise InvalidRequest("There is no such restore.")
    return restore


def approve_real_restore(*, actor, restore_id: int) -> DatabaseRestore:
    """The second person: someone else than who asked, holding rollout.trigger_rollback."""
    if not permissions.can_trigger_rollback(actor):
        raise NotAllowed("Approving a database restore needs rollout.trigger_rollback.")
    with transaction.atomic():
        restore = _locked(restore_id)
        if restore.kind != DatabaseRestore.Kind.REAL or restore.status != DatabaseRestore.Status.REQUESTED:
            raise RestoreRefused(f"Restore #{restore.pk} is not waiting for an approval.")
        if restore.requested_by_id == actor.pk:
            raise RestoreRefused("A second person approves a database restore: not the one who asked for it.")
        restore.status = DatabaseRestore.Status.APPROVED
        restore.approved_by, restore.approved_by_name, restore.approved_at = actor, actor.username, timezone.now()
        restore.save(update_fields=["status", "approved_by", "approved_by_name", "approved_at"])
        record_event(actor=actor, action="restore.real.approve", target=restore,
                     before={"status": "requested"}, after={"status": "approved"}, reason=restore.reason)  # fmt: skip
    return restore


def cancel_real_restore(*, actor, restore_id: int, reason: str) -> DatabaseRestore:
    """Cancel an Option C restore that was asked for or approved but not started, with a reason."""
    if not permissions.can_trigger_rollback(actor):
        raise NotAllowed("Cancelling a database restore needs rollout.trigger_rollback.")
    reason = _clean_reason(reason, required=True)
    with transaction.atomic():
        restore = _locked(restore_id)
        if restore.status not in (DatabaseRestore.Status.REQUESTED, DatabaseRestore.Status.APPROVED):
            raise RestoreRefused(
                f"Restore #{restore.pk} is {restore.get_status_display().lower()}: too late to cancel."
            )
        before = restore.status
        restore.status, restore.error = DatabaseRestore.Status.CANCELLED, f"Cancelled by {actor.username}: {reason}"
        restore.save(update_fields=["status", "error"])
        record_event(actor=actor, action="restore.real.cancel", target=restore, before={"status": before},
                     after={"status": "cancelled"}, reason=reason)  # fmt: skip
    return restore


def real_restore_blockers(restore: DatabaseRestore, *, now=None) -> list[str]:
    """What still stands in the way of starting this Option C restore, in words (empty: it may start)."""
    now = now or timezone.now()
    blockers = []
    if restore.status != DatabaseRestore.Status.APPROVED:
        blockers.append("a second person must approve it" if restore.status == DatabaseRestore.Status.REQUESTED
                        else f"it is {restore.get_status_display().lower()}")  # fmt: skip
    if not (restore.window_starts_at and restore.window_starts_at <= now < restore.window_ends_at):
        blockers.append("its maintenance window is not open now")
    flags = list(FeatureFlag.objects.all())
    if not flags or not all(flag.kill_switch_engaged for flag in flags):
        blockers.append("the kill switch must be engaged (Option A first: no client may write while it restores)")
    rehearsed = DatabaseRestore.objects.filter(
        kind=DatabaseRestore.Kind.REHEARSAL, backup=restore.backup, status=DatabaseRestore.Status.PASSED
    ).exists()
    if not rehearsed:
        blockers.append(f"a restore rehearsal of {restore.backup.file_name} must have passed")
    return blockers


def start_real_restore(*, actor, restore_id: int) -> DatabaseRestore:
    """Queue an approved Option C restore, checked again: window open, kill switch engaged, archive unchanged."""
    if not permissions.can_trigger_rollback(actor):
        raise NotAllowed("Restoring the database (Option C) needs rollout.trigger_rollback.")
    with transaction.atomic():
        restore = _locked(restore_id)
        if restore.kind != DatabaseRestore.Kind.REAL:
            raise RestoreRefused(f"Restore #{restore.pk} is not an Option C restore.")
        blockers = real_restore_blockers(restore)
        if blockers:
            raise RestoreRefused("It may not start yet: " + "; ".join(blockers) + ".")
        _refuse_if_busy()
        usable_backup(restore.backup_id)
        restore.status = DatabaseRestore.Status.QUEUED
        restore.save(update_fields=["status"])
        record_event(actor=actor, action="restore.real.start", target=restore, before={"status": "approved"},
                     after={"status": "queued"}, reason=restore.reason)  # fmt: skip
    return restore


def mark_unqueued(*, restore_id: int, error: str) -> None:
    """Fail a queued restore the workers never got (the broker was unreachable), saying why."""
    DatabaseRestore.objects.filter(pk=restore_id, status=DatabaseRestore.Status.QUEUED).update(
        status=DatabaseRestore.Status.FAILED, error=error, finished_at=timezone.now()
    )


# --- Doing ------------------------------------------------------------------------------------------------
def _claim(restore_id: int) -> DatabaseRestore | None:
    with transaction.atomic():
        restore = DatabaseRestore.objects.select_for_update().filter(pk=restore_id).first()
        if restore is None or restore.status != DatabaseRestore.Status.QUEUED:
            return None  # taken already (a redelivered task), or cancelled
        restore.status, restore.started_at = DatabaseRestore.Status.RUNNING, timezone.now()
        restore.save(update_fields=["status", "started_at"])
    return restore


def _note(restore: DatabaseRestore, note: str) -> None:
    restore.progress_note = note[:300]
    DatabaseRestore.objects.filter(pk=restore.pk).update(progress_note=restore.progress_note)


ACTION_WORDS = {"dry_run": "applied to the scratch copy", "apply": "applied", "rollback": "rolled back"}


def _step_row(run) -> dict:
    return {"step": run.step_number, "version": run.version, "action": run.action, "passed": run.passed,
            "duration_ms": run.duration_ms, "error": run.error, "sha256": run.sha256,
            "title": BY_VERSION[run.version].title, "what": ACTION_WORDS.get(run.action, run.action)}  # fmt: skip


def _scratch(restore: DatabaseRestore) -> None:
    """Dry run or rehearsal: restore into the scratch database, compare, and (dry run) apply the six steps."""
    with scratch_database() as name:
        restore.database = name
        _note(restore, f"pg_restore of {restore.backup.file_name} into {name}")
        restore.restore_ms = pg_restore(restore.backup, database=name, clean=False)
        _note(restore, "comparing every table's rows and checksum with the backup's")
        restore.tables = dumps.compare_checksums(restore.backup.checksums, checksums_of(name))
        if restore.mismatches:
            restore.error = f"{len(restore.mismatches)} table(s) differ from the backup's figures."
            return
        if restore.kind == DatabaseRestore.Kind.DRY_RUN:
            with connect(name) as scratch:
                _dry_run_steps(restore, scratch)


def _dry_run_steps(restore: DatabaseRestore, scratch: psycopg.Connection) -> None:
    """The six files applied in order to the scratch copy, each recorded with its sha256 and timing."""
    reason = f"Phase 2 dry run #{restore.pk} on a scratch copy of {restore.backup.file_name}"
    for step in STEPS:
        if step.version in runner.applied_versions(connection=scratch):
            continue  # in the archive already (a backup taken after it)
        _note(restore, f"applying step {step.number} ({step.filename}) to the scratch copy")
        started_at = timezone.now()
        try:
            outcome = runner.apply_step(step.version, connection=scratch, support=False)
        except (runner.Phase2Error, MigrationFileMissing, DatabaseError, psycopg.Error) as exc:
            sha256 = ""
            with contextlib.suppress(MigrationFileMissing):
                sha256 = step.read()[1]
            outcome = runner.StepOutcome(step=step, action="apply", sha256=sha256, error=phase2.first_line(exc))
        run = phase2.record_dry_run(outcome, actor=restore.requested_by, started_at=started_at, reason=reason)
        restore.steps = [*restore.steps, _step_row(run)]
        if not run.passed:
            failure = run.error or "its verification failed"
            restore.error = f"Step {step.number} failed on the scratch copy: {failure}."
            return


def _kill_switch_engaged() -> bool:
    flags = list(FeatureFlag.objects.all())
    return bool(flags) and all(flag.kill_switch_engaged for flag in flags)


def _real(restore: DatabaseRestore) -> None:
    """Option C in place: undo the applied steps, restore BarTender's schemas, compare, apply steps 1–5 again."""
    if not _kill_switch_engaged():
        restore.error = "The kill switch was released before the restore began: nothing was restored."
        return
    actor = restore.requested_by
    reason = f"Option C restore #{restore.pk}: {restore.reason}"
    applied = [step for step in STEPS if step.version in runner.applied_versions()]
    for step in reversed(applied):
        _note(restore, f"rolling back step {step.number} ({step.filename}) with its down script")
        run = phase2.rollback_migration(version=step.version, actor=actor, reason=reason)
        restore.steps = [*restore.steps, _step_row(run)]
        if not run.passed:
            restore.error = f"Rolling back step {step.number} failed: {run.error}. Nothing was restored."
            return
    restore.database = db_sessions.direct_connection_params()["dbname"]  # BarTender's database itself
    _note(restore, f"pg_restore --clean of {', '.join(settings.BARTENDER_SCHEMAS)} from {restore.backup.file_name}")
    restore.restore_ms = pg_restore(restore.backup, database=restore.database, clean=True)
    _note(restore, "comparing every table's rows and checksum with the backup's")
    restore.tables = dumps.compare_checksums(restore.backup.checksums, checksums_of())
    if restore.mismatches:
        restore.error = f"{len(restore.mismatches)} table(s) differ from the backup's figures after the restore."
        return
    for step in REAPPLIED_STEPS:
        _note(restore, f"applying step {step.number} ({step.filename}) again")
        run = phase2.apply_migration(version=step.version, actor=actor, reason=reason)
        restore.steps = [*restore.steps, _step_row(run)]
        if not run.passed:
            restore.error = f"Step {step.number} failed when applied again: {run.error or 'its verification failed'}."
            return


def _tell_the_incident(restore: DatabaseRestore) -> None:
    """The open incident (the kill switch's) gets an update saying what the restore did."""
    incident = incident_selectors.latest_open_incident()
    if incident is None or restore.requested_by is None:
        return
    verdict = "restored and verified" if restore.status == DatabaseRestore.Status.PASSED else "FAILED"
    message = (
        f"Database rollback (Option C) #{restore.pk}: {restore.backup.file_name} {verdict}. "
        f"Tables compared: {len(restore.tables)}, differing: {len(restore.mismatches)}; "
        f"migrations 1-5 applied again: {sum(1 for s in restore.steps if s['action'] == 'apply' and s['passed'])}. "
        f"{restore.error}"
    ).strip()
    note_on_incident(incident, actor=restore.requested_by, message=message)


def execute_restore(*, restore_id: int) -> DatabaseRestore | None:
    """Run a queued restore to its end (a Celery task calls this); None when it was not queued (taken already)."""
    restore = _claim(restore_id)
    if restore is None:
        return None
    try:
        if restore.kind == DatabaseRestore.Kind.REAL:
            _real(restore)
        else:
            _scratch(restore)
    except (RestoreFailed, RestoreRefused, runner.Phase2Error, DatabaseError, psycopg.Error) as exc:
        restore.error = phase2.first_line(exc)
    except Exception as exc:
        logger.exception("Restore #%s failed", restore.pk)
        restore.error = f"Unexpected error: {phase2.first_line(exc)}"
    passed = not restore.error
    restore.status = DatabaseRestore.Status.PASSED if passed else DatabaseRestore.Status.FAILED
    restore.finished_at = timezone.now()
    restore.progress_note = "done" if passed else "stopped"
    restore.save()
    summary = {"status": restore.status, "tables": len(restore.tables), "differing": len(restore.mismatches),
               "steps": restore.steps, "restore_ms": restore.restore_ms, "error": restore.error}  # fmt: skip
    if restore.kind == DatabaseRestore.Kind.REAL:
        with transaction.atomic():
            state = RolloutState.objects.filter(pk=RolloutState.SINGLETON_ID).first() or locked_state()
            _record(kind=EventKind.DATABASE_RESTORE, actor=restore.requested_by, target=state,
                    stage_before=state.stage, stage_after=state.stage, before={"backup": restore.backup.file_name},
                    after={**summary, "restore": restore.pk, "approved_by": restore.approved_by_name},
                    reason=restore.reason)  # fmt: skip
        _tell_the_incident(restore)
    else:
        record_event(actor=restore.requested_by, action=f"restore.{restore.kind}.finish", target=restore,
                     after=summary, reason=restore.reason or restore.get_kind_display())  # fmt: skip
    return restore
