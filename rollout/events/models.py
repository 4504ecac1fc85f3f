"""The rollout timeline: one event per change (who, when, why, before and after) and the notifications it sent."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from adminpanel.outbox import OutboxMessage
from rollout.flags.models import FeatureFlag
from rollout.stages.models import RolloutStep


class EventKind(models.TextChoices):
    FLAG_FLIP = "flag_flip", "Flag flipped"
    ALLOW_LIST = "allow_list", "Allow-list changed"
    STAGE_ADVANCE = "stage_advance", "Stage advanced"
    STAGE_PAUSE = "stage_pause", "Rollout paused"
    STAGE_RESUME = "stage_resume", "Rollout resumed"
    GATE_OVERRIDE = "gate_override", "Gate overridden"
    STAGE_ROLLBACK = "stage_rollback", "Stage rolled back"
    KILL_SWITCH = "kill_switch", "Kill switch engaged"
    KILL_SWITCH_RELEASE = "kill_switch_release", "Kill switch released"
    AUTO_ROLLBACK = "auto_rollback", "Automatic rollback"
    RECORD = "record", "Deployment record"
    AUTOPILOT_ON = "autopilot_on", "Autopilot turned on"
    AUTOPILOT_OFF = "autopilot_off", "Autopilot turned off"
    RUNBOOK = "runbook", "Runbook step"
    DATABASE_RESTORE = "database_restore", "Database restored (Option C)"
    CODE_ROLLBACK = "code_rollback", "Code rolled back (Option B)"
    CHECKLIST_ATTEST = "checklist_attest", "4a checklist item attested"
    DECISION = "decision", "Decision recorded"


class Decision(models.TextChoices):
    """What the people running the deployment decided at a checkpoint (runbook: proceed, roll back or abort)."""

    PROCEED = "proceed", "Proceed"
    ROLLBACK = "rollback", "Roll back"
    ABORT = "abort", "Abort the deployment"


class RolloutEvent(models.Model):
    """The rollout's timeline. Append-only: a database trigger refuses UPDATE and DELETE (migration 0002).

    Its references carry no database constraint (and never cascade), so deleting a user, alert or record can
    never need to rewrite history; `actor_name` keeps who it was.
    """

    kind = models.CharField(max_length=24, choices=EventKind.choices)
    created_at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, null=True, related_name="+"
    )
    actor_name = models.CharField(max_length=150)
    flag = models.ForeignKey(
        FeatureFlag, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    stage_before = models.CharField(max_length=8, blank=True, default="")
    stage_after = models.CharField(max_length=8, blank=True, default="")
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    reason = models.TextField(blank=True, default="")
    is_override = models.BooleanField(default=False)
    alert = models.ForeignKey(
        "monitoring.Alert", on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    step = models.ForeignKey(
        RolloutStep, on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )
    record = models.ForeignKey(
        "DeploymentRecord", on_delete=models.DO_NOTHING, db_constraint=False, null=True, blank=True, related_name="+"
    )

    class Meta:
        db_table = "rollout_events"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"], name="rollout_events_created_idx"),
            models.Index(fields=["kind", "created_at"], name="rollout_events_kind_idx"),
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.kind}"


class RolloutNotification(OutboxMessage):
    """Outbox of the rollout's automatic steps (autopilot on, off, advance, pause): each is sent by mail and webhook
    like an alert (monitoring.notifications), retried at the next autopilot tick until delivered or out of
    attempts, so a failing mail server never loses one and never blocks a step. Its fields are the one outbox's
    (adminpanel.outbox.OutboxMessage)."""

    event = models.OneToOneField(RolloutEvent, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+")
    # As this table has always declared them (no help text), so that adopting the outbox changes no migration state.
    notified_at = models.DateTimeField(null=True, blank=True)
    delivered_to = models.JSONField(default=list, blank=True)

    class Meta:
        db_table = "rollout_notifications"
        ordering = ["id"]
        indexes = [models.Index(fields=["id"], condition=Q(notified_at__isnull=True), name="rollout_notify_pending")]

    def __str__(self):
        return f"notification of rollout event {self.event_id}"
