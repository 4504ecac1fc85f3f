"""Stored post-migration validations (runbook section 2.2 and "Security & Data Integrity")."""

from django.db import models
from django.utils import timezone

from adminpanel.models.bartender import User


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
