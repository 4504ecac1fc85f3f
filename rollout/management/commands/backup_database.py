"""Runbook 1.2: `pg_dump --format=custom` of the database into BACKUP_DIR, read back with `pg_restore --list`.

    manage.py backup_database [--as <username>]

Exit status 0 when the archive was written and read back, 1 otherwise. The backup is listed on the panel's
backups page and counts as Phase 1's backup on the cockpit.
"""

from django.core.management.base import BaseCommand, CommandError

from rollout.management.commands.run_runbook_step import run_step
from rollout.models import RunbookRun, RunbookStep


class Command(BaseCommand):
    help = "Back up the database (pg_dump --format=custom into BACKUP_DIR) and read the archive back."

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="username", default="", help="who takes it (for the record)")

    def handle(self, *args, username, **options):
        run = run_step(self, step=RunbookStep.BACKUP, username=username)
        if run.status != RunbookRun.Status.PASSED:
            raise CommandError(f"Backup failed: {run.summary or run.error}")
