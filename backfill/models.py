"""The server_id backfill (runbook step 6) and the post-migration validation (runbook section 2.2 and
"Security & Data Integrity"): where a backfill run stands, so it can pause, resume and report, and every
validation's results, kept so the decision to advance has a record."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from adminpanel.models import Bar, User


class BackfillRun(models.Model):
    """One backfill over sales, then consignments, then returns; `phase` + `last_id` is its keyset cursor.

    The cursor and the counters are written in the same transaction as the batch they describe, so a
    run killed at any point resumes exactly after its last committed batch.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        PAUSED = "paused", "Paused"
        FINISHED = "finished", "Finished"
        FAILED = "failed", "Failed"

    class Phase(models.TextChoices):
        SALES = "sales", "Sales"
        CONSIGNMENTS = "consignments", "Consignments"
        RETURNS = "returns", "Returns"
        DONE = "done", "Done"

    class Via(models.TextChoices):
        COMMAND = "command", "Management command"
        PANEL = "panel", "Panel"
        TASK = "task", "Celery task"

    ACTIVE_STATUSES = (Status.RUNNING, Status.PAUSED)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    bar = models.ForeignKey(
        Bar, on_delete=models.SET_NULL, db_constraint=False, null=True, blank=True, related_name="+"
    )
    dry_run = models.BooleanField(default=False)
    started_via = models.CharField(max_length=16, choices=Via.choices, default=Via.COMMAND)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.SALES)
    last_id = models.BigIntegerField(default=0, help_text="Last primary key of the current phase's table done.")
    ranges = models.PositiveSmallIntegerField(
        default=1, help_text="Disjoint key ranges per phase, each with its own cursor, driven in parallel."
    )
    configured_batch_size = models.PositiveIntegerField()
    batch_size = models.PositiveIntegerField(help_text="Current size; halved after a timeout.")

    rows_total = models.BigIntegerField(default=0, help_text="Rows with server_id NULL and no log row at start.")
    rows_done = models.BigIntegerField(default=0)
    resolved_directly = models.BigIntegerField(default=0, help_text="By mapping (returns: by their sale).")
    resolved_by_fallback = models.BigIntegerField(default=0)
    unresolved = models.BigIntegerField(default=0)
    failed_rows = models.BigIntegerField(default=0)
    reason_counts = models.JSONField(default=dict, blank=True)
    batches = models.PositiveIntegerField(default=0)
    timeouts = models.PositiveIntegerField(default=0)
    longest_batch_ms = models.PositiveIntegerField(default=0)
    active_seconds = models.FloatField(default=0.0, help_text="Time spent in batches (for rate and ETA).")

    started_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "backfill_runs"
        ordering = ["-started_at", "-id"]
        constraints = [
            # At most one live run: two runs would only fight over the same rows.
            models.UniqueConstraint(
                models.Value(True),
                condition=Q(status__in=["running", "paused"]),
                name="backfill_runs_one_active",
            ),
        ]

    def __str__(self):
        scope = f"bar {self.bar_id}" if self.bar_id else "all bars"
        return f"backfill run {self.pk} ({self.status}, {scope}{', dry run' if self.dry_run else ''})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def fallbacks(self) -> int:
        return self.rows_done - self.resolved_directly

    @property
    def percent(self) -> float:
        if self.phase == self.Phase.DONE or self.status == self.Status.FINISHED:
            return 100.0
        if not self.rows_total:
            return 0.0
        return min(100.0, round(self.rows_done * 100.0 / self.rows_total, 1))

    @property
    def rows_per_second(self) -> float:
        return round(self.rows_done / self.active_seconds, 1) if self.active_seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> int | None:
        rate = self.rows_per_second
        if self.status == self.Status.FINISHED:
            return 0
        if not rate:
            return None
        return int(max(self.rows_total - self.rows_done, 0) / rate)


class BackfillRange(models.Model):
    """One disjoint key range of one phase of a run: ids in (`after_id`, `upper_id`] (no upper bound for the
    last range, so rows inserted during the run are still walked). `last_id` is the range's own keyset cursor,
    written in the same transaction as each batch, like the run's counters; one process drives a range at a
    time (an advisory lock), so a killed range resumes exactly after its last committed batch."""

    run = models.ForeignKey(BackfillRun, on_delete=models.CASCADE, related_name="key_ranges")
    phase = models.CharField(max_length=16, choices=BackfillRun.Phase.choices)
    position = models.PositiveSmallIntegerField()
    after_id = models.BigIntegerField(help_text="Exclusive lower bound.")
    upper_id = models.BigIntegerField(null=True, blank=True, help_text="Inclusive upper bound; none for the last.")
    last_id = models.BigIntegerField(help_text="Last primary key of this range done.")
    done = models.BooleanField(default=False)
    batches = models.PositiveIntegerField(default=0)
    rows_done = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "backfill_run_ranges"
        ordering = ["run", "phase", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "phase", "position"], name="backfill_range_unique_position"),
        ]

    def __str__(self):
        upper = self.upper_id if self.upper_id is not None else "end"
        return f"{self.phase} ({self.after_id}, {upper}] of run {self.run_id}, after {self.last_id}"


class ValidationRun(models.Model):
    """One click on "Run validation": every check's result, kept so the decision to advance has a record."""

    started_at = models.DateTimeField(default=timezone.now)
    run_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    run_by_name = models.CharField(max_length=150, blank=True, default="")
    passed = models.BooleanField(default=False)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "post_migration_validations"
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"validation {self.pk} ({'pass' if self.passed else 'fail'}) at {self.started_at:%Y-%m-%d %H:%M}"


class ValidationCheck(models.Model):
    """One line of a validation: pass/fail, the measured value, what was expected and the SQL that ran."""

    run = models.ForeignKey(ValidationRun, on_delete=models.CASCADE, related_name="checks")
    position = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=64)
    section = models.CharField(max_length=64)
    label = models.CharField(max_length=200)
    passed = models.BooleanField()
    value = models.TextField()
    expected = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)
    sql = models.TextField()
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "post_migration_validation_checks"
        ordering = ["run", "position"]
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="validation_check_unique_per_run")]

    def __str__(self):
        return f"{self.key}: {'pass' if self.passed else 'fail'} ({self.value})"


class MigrationStepRun(models.Model):
    """One Phase 2 action on a runbook migration file (DESIGN §1): applied, rolled back or dry-run, by whom, when,
    the file's sha256, how long it took and what the runbook's verification query returned."""

    class Action(models.TextChoices):
        APPLY = "apply", "Applied"
        ROLLBACK = "rollback", "Rolled back"
        DRY_RUN = "dry_run", "Dry run"
        OUTSIDE = "outside", "Found applied outside the panel"

    version = models.CharField(max_length=14)
    step_number = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=16, choices=Action.choices)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor_name = models.CharField(max_length=150, default="system")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    duration_ms = models.PositiveIntegerField(default=0)
    verification = models.JSONField(default=dict, blank=True, help_text="The verification query's columns and rows.")
    passed = models.BooleanField(default=False)
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "phase2_step_runs"
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["version", "started_at"], name="phase2_step_runs_version_idx")]

    def __str__(self):
        return f"step {self.step_number} {self.action} by {self.actor_name}"
