"""Deployment records (the runbook's Deployment Record Template), signed by the deployer and the reviewer."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class RecordStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    SUCCESSFUL = "successful", "✓ Successful"
    ROLLED_BACK = "rolled_back", "✗ Rolled back"


class DeploymentRecord(models.Model):
    """The runbook's "Deployment Record Template" as a row; timeline and monitoring fill themselves."""

    date = models.DateField(default=timezone.localdate)
    deployer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Pre-deployment verification (runbook checklist); None = not checked yet.
    backup_location = models.CharField(max_length=300, blank=True, default="")
    tests_passing = models.BooleanField(null=True, blank=True)
    flags_off = models.BooleanField(null=True, blank=True)
    code_builds = models.BooleanField(null=True, blank=True)
    # The window whose audit timeline and health runs the record shows (monitoring: its first 24 h).
    started_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    issues_encountered = models.TextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=RecordStatus.choices, default=RecordStatus.IN_PROGRESS)
    deployer_signed_at = models.DateTimeField(null=True, blank=True)
    reviewer_signed_at = models.DateTimeField(null=True, blank=True)
    # Timeline and monitoring as they stood when the second signature landed: a signed record never changes.
    snapshot = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # The Phase 1 backup the record refers to (filled from the cockpit, never typed).
    backup = models.ForeignKey("DatabaseBackup", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        db_table = "deployment_records"
        ordering = ["-date", "-id"]
        constraints = [
            models.CheckConstraint(condition=~Q(deployer=F("reviewer")), name="deployment_record_two_people"),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="deployment_record_window_ordered",
            ),
        ]

    def __str__(self):
        return f"Mode Switching deployment of {self.date}"

    @property
    def is_signed(self) -> bool:
        return bool(self.deployer_signed_at and self.reviewer_signed_at)
