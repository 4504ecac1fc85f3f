"""Alertmanager triggers: the secrets that let an alert open an incident or pull the kill switch."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AlertTrigger(models.Model):
    """An Alertmanager webhook receiver (issue 23; LaunchDarkly calls it a flag trigger): `/hooks/alertmanager/
    <secret>` opens an incident for a firing alert group and, when the trigger may and an alert is labelled
    ``bartender_action="kill_switch"``, pulls the kill switch. Created and revoked by an admin (Django admin,
    audited); the secret is shown once and kept only as its SHA-256 (rollout/killswitch/alert_hooks.py)."""

    name = models.CharField(max_length=100, unique=True, help_text="Who sends it, e.g. “alertmanager-prod”.")
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    may_pull_kill_switch = models.BooleanField(
        default=False, help_text='Pull the kill switch for alerts labelled bartender_action="kill_switch".'
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_called_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The rate limit's fixed one-minute window (ALERT_HOOK_CALLS_PER_MINUTE), counted under the row's lock.
    window_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    window_calls = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        db_table = "rollout_alert_triggers"
        ordering = ["name"]

    def __str__(self):
        return f"alert trigger {self.name}{' (revoked)' if self.revoked_at else ''}"
