"""The runbook steps the panel runs (runs, waivers, the CI record) and the code rollbacks (Option B)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class RunbookStep(models.TextChoices):
    """The runbook steps the panel runs (or records) itself: Phase 1 and Phase 3's code deployment check."""

    TEST_SUITE = "test_suite", "Test suite and build (CI run)"
    LOAD_TEST = "load_test", "RLS load test"
    ROLLBACK_REHEARSAL = "rollback_rehearsal", "Rollback rehearsal"
    BACKUP = "backup", "Database backup"
    FLAGS_OFF = "flags_off", "Feature flags verified off"
    DEPLOY_CHECK = "deploy_check", "Code deployment verified"


class RunbookRun(models.Model):
    """One run of a runbook step (or a waiver of it): who asked, its progress while it runs, its evidence.

    A step's state on the cockpit is its latest run. At most one run per step is queued or running at a time.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        PASSED = "passed", "Passed"
        FAILED = "failed", "Failed"
        WAIVED = "waived", "Waived"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    step = models.CharField(max_length=24, choices=RunbookStep.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, default="system")
    via = models.CharField(max_length=16, default="panel", help_text="panel, command or demo")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Written while the run works: the cockpit shows them, and a run whose heartbeat stops is stalled.
    progress = models.PositiveSmallIntegerField(default=0)
    progress_note = models.CharField(max_length=300, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    parameters = models.JSONField(default=dict, blank=True)
    result = models.JSONField(default=dict, blank=True)
    summary = models.CharField(max_length=500, blank=True, default="")
    error = models.TextField(blank=True, default="")
    reason = models.TextField(blank=True, default="", help_text="Why it was waived, or the attestation's note.")
    task_id = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        db_table = "runbook_runs"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["step"], condition=Q(status__in=["queued", "running"]), name="runbook_run_one_active_per_step"
            ),
            models.CheckConstraint(condition=Q(progress__lte=100), name="runbook_run_progress_pct"),
            models.CheckConstraint(condition=~Q(status="waived") | ~Q(reason=""), name="runbook_run_waiver_has_reason"),
        ]
        indexes = [models.Index(fields=["step", "-created_at"], name="runbook_run_step_idx")]

    def __str__(self):
        return f"{self.get_step_display()} run {self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class CodeRollback(models.Model):
    """Rollback Option B run by the panel: the CI/CD hook (BARTENDER_DEPLOY_HOOK_URL) asked to deploy an earlier
    build, then the health URL polled until it serves that build, as Phase 3 does."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Calling the hook, then waiting for the build"
        DONE = "done", "The health URL serves the build"
        HOOK_FAILED = "hook_failed", "The deploy hook refused or did not answer"
        TIMED_OUT = "timed_out", "The build never showed on the health URL"
        UNVERIFIED = "unverified", "Hook called; no health URL to verify it"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    build = models.CharField(max_length=100)
    reason = models.TextField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    requested_by_name = models.CharField(max_length=150, default="system")
    requested_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    hook_status = models.PositiveSmallIntegerField(null=True, blank=True, help_text="The hook's HTTP status.")
    tries = models.PositiveIntegerField(default=0, help_text="Polls of the health URL.")
    attempts = models.JSONField(default=list, blank=True)
    summary = models.TextField(blank=True, default="")

    class Meta:
        db_table = "code_rollbacks"
        ordering = ["-requested_at", "-id"]

    def __str__(self):
        return f"code rollback #{self.pk} to {self.build}"
