"""Apply (or roll back) the runbook's migrations from a shell, as the Phase 2 page does: one step at a time in the
runbook's order, verified, recorded and audited under the named panel account."""

from django.core.management.base import BaseCommand, CommandError

from adminpanel.models import User
from backfill.phase2 import services as phase2
from backfill.phase2.steps import STEPS
from rollout import errors
from rollout.backups import restores
from rollout.models import DatabaseRestore
from rollout.permissions import can_apply_migrations
from rollout.runbook import phase2_gate


class Command(BaseCommand):
    help = "Apply the next runbook migration (or --all, or --rollback the last one) as a panel account."

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="username", required=True, help="the panel account (rollout.apply_migration)")
        parser.add_argument("--all", action="store_true", help="apply every pending step, stopping at a failure")
        parser.add_argument("--rollback", action="store_true", help="roll back the last applied step")
        parser.add_argument("--reason", default="", help="why (required with --rollback)")
        parser.add_argument("--dry-run", action="store_true",
                            help="restore the latest verified backup into a scratch database; apply the files there")
        parser.add_argument("--override-reason", default="",
                            help="start Phase 2 although Phase 1's backup or flags check is not done (audited)")

    def handle(self, *args, username, all, rollback, reason, dry_run, override_reason, **options):
        actor = User.objects.filter(username=username, is_active=True).first()
        if actor is None or not can_apply_migrations(actor):
            raise CommandError(f"{username!r} is not an active panel account holding rollout.apply_migration")
        if dry_run:
            self._dry_run(actor)
            return
        states = phase2.step_states()
        try:
            if rollback:
                if not reason.strip():
                    raise CommandError("--rollback needs --reason")
                applied = [s for s in states if s["state"] != "not_applied"]
                if not applied:
                    raise CommandError("No runbook migration is applied.")
                run = phase2.rollback_migration(version=applied[-1]["step"].version, actor=actor, reason=reason)
                self.stdout.write(f"step {run.step_number} rolled back in {run.duration_ms} ms")
                return
            pending = [s["step"] for s in states if s["state"] == "not_applied"]
            for step in pending if all else pending[:1]:
                run = phase2_gate.apply_checked(version=step.version, actor=actor, override_reason=override_reason)
                verdict = "verified" if run.passed else "VERIFICATION FAILED"
                self.stdout.write(f"step {run.step_number} {step.filename}: applied in {run.duration_ms} ms, {verdict}")
                if not run.passed:
                    raise CommandError(f"step {step.number}'s verification failed: Phase 2 stops here")
            if not pending:
                self.stdout.write(f"all {len(STEPS)} runbook migrations are applied")
        except phase2.Phase2Error as exc:
            raise CommandError(str(exc)) from exc

    def _dry_run(self, actor):
        try:
            restore = restores.request_scratch_restore(
                actor=actor, kind=DatabaseRestore.Kind.DRY_RUN, reason="manage.py apply_runbook_migration --dry-run"
            )
        except errors.RolloutError as exc:
            raise CommandError(str(exc)) from exc
        restore = restores.execute_restore(restore_id=restore.pk) or restore
        self.stdout.write(f"restored {restore.backup.file_name} into {restore.database} in {restore.restore_ms} ms; "
                          f"{len(restore.tables)} tables compared, {len(restore.mismatches)} differ")  # fmt: skip
        for row in restore.steps:
            verdict = "passed" if row["passed"] else "FAILED"
            self.stdout.write(f"step {row['step']}: {verdict} in {row['duration_ms']} ms {row['error']}".rstrip())
        if restore.status != DatabaseRestore.Status.PASSED:
            raise CommandError(f"dry run #{restore.pk} failed: {restore.error}")
        self.stdout.write(f"dry run #{restore.pk} passed")
