"""Database backups taken by Phase 1 and the restores of them (dry runs, rehearsals, Option C)."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from rollout.runbook.models import RunbookRun


class DatabaseBackup(models.Model):
    """A `pg_dump --format=custom` archive and what reading it back with `pg_restore --list` found."""

    run = models.ForeignKey(RunbookRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="backups")
    path = models.CharField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)
    created_by_name = models.CharField(max_length=150, default="system")
    size_bytes = models.BigIntegerField(default=0)
    sha256 = models.CharField(max_length=64, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    server_version = models.CharField(max_length=100, blank=True, default="")
    pg_dump_version = models.CharField(max_length=100, blank=True, default="")
    database = models.CharField(max_length=200, blank=True, default="")
    # Read back with pg_restore --list: the archive's table of contents.
    verified = models.BooleanField(default=False)
    toc_entries = models.PositiveIntegerField(default=0)
    tables_with_data = models.JSONField(default=list, blank=True)
    verify_error = models.TextField(blank=True, default="")
    # Each BarTender table's row count and an order-free checksum of its rows, read in the very snapshot pg_dump
    # dumped (pg_dump --snapshot): what a restore of this archive must give back, table by table.
    checksums = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "database_backups"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.file_name

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class DatabaseRestore(models.Model):
    """A restore of a Phase 1 backup (DESIGN §1): the dry run of Phase 2 and the restore rehearsal both restore it
    into a scratch database; the real one (rollback Option C) restores BarTender's schemas in place, after the kill
    switch, inside a declared maintenance window and with a second person's approval, and keeps the panel's own
    schema (its history) as it is."""

    class Kind(models.TextChoices):
        DRY_RUN = "dry_run", "Phase 2 dry run"
        REHEARSAL = "rehearsal", "Restore rehearsal"
        REAL = "real", "Database rollback (Option C)"

    class Status(models.TextChoices):
        REQUESTED = "requested", "Waiting for a second person's approval"
        APPROVED = "approved", "Approved"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    backup = models.ForeignKey(DatabaseBackup, on_delete=models.PROTECT, related_name="restores")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, default="system")
    requested_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True, default="")
    # Option C only: the declared maintenance window and the second person.
    window_starts_at = models.DateTimeField(null=True, blank=True)
    window_ends_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    approved_by_name = models.CharField(max_length=150, blank=True, default="")
    approved_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    database = models.CharField(max_length=200, blank=True, default="", help_text="Where it was restored.")
    restore_ms = models.PositiveIntegerField(default=0)
    progress_note = models.CharField(max_length=300, blank=True, default="")
    # [{table, expected_rows, found_rows, match}] and, for a dry run or Option C, each migration step it applied.
    tables = models.JSONField(default=list, blank=True)
    steps = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "database_restores"
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk} of {self.backup}"

    @property
    def mismatches(self) -> list[dict]:
        return [row for row in self.tables if not row.get("match")]
