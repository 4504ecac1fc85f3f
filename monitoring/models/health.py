"""Stored health-check runs, their per-check results, and the alerts they open (DESIGN.md section 5)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from adminpanel.models import User
from adminpanel.outbox import OutboxMessage
from monitoring.enums import AlertState, CheckStatus, PhaseKind, PhaseVerdict


class HealthRun(models.Model):
    """One run of the whole check suite (beat every 5 minutes, on demand, or `manage.py healthcheck`)."""

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        MANUAL = "manual", "Manual"
        COMMAND = "command", "Command"

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.SCHEDULE)
    triggered_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    status = models.CharField(max_length=16, choices=CheckStatus.choices, default=CheckStatus.UNKNOWN)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # The Celery task id: a redelivered task (acks_late) finds its run done and does nothing.
    task_id = models.CharField(max_length=64, null=True, blank=True, unique=True)

    class Meta:
        db_table = "health_runs"
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["-finished_at"], name="health_runs_finished_idx")]

    def __str__(self):
        return f"health run {self.pk} ({self.status}) at {self.started_at:%Y-%m-%d %H:%M}"


class WorkerHeartbeat(models.Model):
    """When a Celery worker last finished the heartbeat task that beat schedules every WORKER_HEARTBEAT_SECONDS
    (DESIGN.md section 5: worker health is judged by work done, not by a PID). One row per worker host; a page
    reads the newest one, so no page view ever asks the broker."""

    hostname = models.CharField(max_length=255, unique=True)
    finished_at = models.DateTimeField()

    class Meta:
        db_table = "worker_heartbeats"
        indexes = [models.Index(fields=["-finished_at"], name="worker_heartbeats_finished_idx")]

    def __str__(self):
        return f"{self.hostname} at {self.finished_at:%Y-%m-%d %H:%M:%S}"


class CheckResult(models.Model):
    run = models.ForeignKey(HealthRun, on_delete=models.CASCADE, related_name="results")
    check_name = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=CheckStatus.choices)
    value = models.FloatField(null=True, blank=True)
    threshold = models.CharField(max_length=200, blank=True, default="")
    detail = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # Consecutive runs, ending with this one, in which the check failed (warning or critical) / was critical;
    # an unknown result carries the previous count, anything else resets it. A critical alert counts toward
    # automatic action once critical_streak reaches the check's HEALTH_CONSECUTIVE_FAILURES.
    failing_streak = models.PositiveSmallIntegerField(default=0)
    critical_streak = models.PositiveSmallIntegerField(default=0)

    class Meta:
        db_table = "health_check_results"
        constraints = [models.UniqueConstraint(fields=["run", "check_name"], name="health_result_unique_per_run")]
        indexes = [models.Index(fields=["check_name", "-run"], name="health_result_check_idx")]

    def __str__(self):
        return f"{self.check_name}: {self.status}"

    @property
    def is_insufficient(self) -> bool:
        return self.status == CheckStatus.INSUFFICIENT

    @property
    def sample_text(self) -> str:
        """What the check's figure stands on, in words ("3 sales"); empty for checks that declare no sample."""
        return (self.detail or {}).get("sample_text", "")

    @property
    def needed_text(self) -> str:
        return (self.detail or {}).get("needed_text", "")

    @property
    def runs_needed(self) -> int:
        return runs_needed_for(self.check_name)

    @property
    def streak(self) -> int:
        """The run count that matters for this result: critical runs in a row when critical, else failing runs."""
        return self.critical_streak if self.status == CheckStatus.CRITICAL else self.failing_streak

    @property
    def streak_text(self) -> str:
        """ "2 of 2 failing runs" for a failing result; empty otherwise."""
        if self.status not in (CheckStatus.WARNING, CheckStatus.CRITICAL):
            return ""
        needed = self.runs_needed
        return f"{min(self.streak, needed)} of {needed} failing run{'s' if needed != 1 else ''}"

    @property
    def rolls_back(self) -> bool:
        """Whether this check's safeguard may pull the kill switch (a fault the flags cure, DESIGN §4d)."""
        return self.check_name in settings.ROLLOUT_AUTO_ROLLBACK_CHECKS

    @property
    def counts_toward_action(self) -> bool:
        return self.status == CheckStatus.CRITICAL and self.critical_streak >= self.runs_needed


def runs_needed_for(check_name: str) -> int:
    """Consecutive critical runs after which a check's alert counts toward automatic action (settings)."""
    needed = settings.HEALTH_CONSECUTIVE_FAILURES.get(check_name, settings.HEALTH_CONSECUTIVE_FAILURES_DEFAULT)
    return max(1, int(needed))


class Alert(models.Model):
    """Opens when a check leaves `ok`, escalates warning → critical, resolves when it returns to `ok`."""

    State = AlertState

    check_name = models.CharField(max_length=64)
    severity = models.CharField(max_length=16, choices=CheckStatus.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OPEN)
    opened_at = models.DateTimeField(default=timezone.now)
    escalated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    ack_comment = models.TextField(blank=True, default="")
    opened_by_result = models.ForeignKey(
        CheckResult, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_result = models.ForeignKey(CheckResult, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # When the alert started to count toward automatic action: critical for HEALTH_CONSECUTIVE_FAILURES runs in
    # a row. Only then is it announced on monitoring.health.services.announce_critical (the rollout's handler).
    safeguard_tripped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "health_alerts"
        ordering = ["-opened_at"]
        constraints = [
            # At most one unresolved alert per check, whatever process writes it.
            models.UniqueConstraint(
                fields=["check_name"], condition=~Q(state="resolved"), name="health_alert_one_unresolved_per_check"
            ),
        ]
        indexes = [models.Index(fields=["state", "-opened_at"], name="health_alert_state_idx")]

    def __str__(self):
        return f"{self.severity} alert on {self.check_name} ({self.state})"

    @property
    def is_unresolved(self) -> bool:
        return self.state != self.State.RESOLVED

    @property
    def runs_needed(self) -> int:
        return runs_needed_for(self.check_name)

    @property
    def streak_text(self) -> str:
        """ "2 of 2 failing runs", from the latest result that judged the check (empty when it is not failing)."""
        return self.last_result.streak_text if self.last_result else ""


class AlertEvent(OutboxMessage):
    """One change in an alert's life, stored with the change itself (outbox): notifications are sent from here,
    retried until delivered or out of attempts, so a failing mail server or webhook never loses the alert."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Opened"
        ESCALATED = "escalated", "Escalated"
        RESOLVED = "resolved", "Resolved"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        SAFEGUARD = "safeguard", "Safeguard tripped (counts toward automatic action)"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    severity = models.CharField(max_length=16, choices=CheckStatus.choices)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    comment = models.TextField(blank=True, default="")
    notify = models.BooleanField(default=True, help_text="Whether this event is sent by mail/webhook.")
    # created_at, notified_at, delivered_to, attempts, last_error: the outbox's (adminpanel.outbox.OutboxMessage).

    class Meta:
        db_table = "health_alert_events"
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(
                fields=["id"], condition=Q(notify=True, notified_at__isnull=True), name="health_alert_event_pending"
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.alert.check_name} ({self.severity})"


class PhaseWindow(models.Model):
    """A named monitoring window of the runbook (Phase 3's 15 minutes, Day 1, Week 1) and its stored verdict."""

    Kind = PhaseKind
    Verdict = PhaseVerdict

    kind = models.CharField(max_length=16, choices=Kind.choices)
    started_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    started_at = models.DateTimeField(default=timezone.now)
    ends_at = models.DateTimeField()
    verdict = models.CharField(max_length=16, choices=Verdict.choices, default=Verdict.PENDING)
    verdict_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        db_table = "health_phase_windows"
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind"], condition=Q(verdict="pending"), name="health_phase_one_running"),
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("started_at")), name="health_phase_ends_after"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} ({self.verdict})"

    @property
    def is_running(self) -> bool:
        return self.verdict == self.Verdict.PENDING
