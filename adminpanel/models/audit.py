"""The panel's own append-only audit trail."""

from django.db import models
from django.utils import timezone

from adminpanel.models.accounts import User
from adminpanel.models.bartender import Bar


class PanelEvent(models.Model):
    """The panel's own append-only audit trail: who changed what, when, before, after and why.

    A database trigger refuses UPDATE and DELETE (see migration 0001). ``bar`` is an indexed uuid, no constraint.
    """

    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    actor_name = models.CharField(max_length=150, help_text="Kept even if the user is deleted.")
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    bar = models.ForeignKey(
        Bar, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "panel_events"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "created_at"], name="panel_events_target_idx"),
            models.Index(fields=["bar", "created_at"], name="panel_events_bar_idx"),
            models.Index(fields=["created_at"], name="panel_events_created_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.target_type}:{self.target_id}"
