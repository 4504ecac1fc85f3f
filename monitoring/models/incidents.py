"""Incidents and escalation (DESIGN.md section 4c): the runbook's contact chain as data, incidents with their
updates, and every notification sent about them, kept as an outbox like the alerts' (sent, retried, shown)."""

from django.conf import settings
from django.core.validators import URLValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from adminpanel.models import User
from adminpanel.outbox import OutboxMessage
from monitoring.enums import IncidentSource, IncidentStatus, Severity
from monitoring.models.health import Alert

# The runbook's "Contact Chain (in order)"; post_migrate keeps these three tiers (see ensure_contact_tiers).
DEFAULT_TIERS = (
    (1, "Development team", "First point of contact: assess severity and impact, check logs and audit trails, "
                            "decide: proceed with caution, roll back or abort."),
    (2, "DevOps/Database team", "If it is a migration or database issue: check database health, verify backup "
                                "integrity, handle rollbacks if needed."),
    (3, "Product/Business team", "If customer impact is expected: notify key customers, update the status page, "
                                 "coordinate communication."),
)  # fmt: skip


class ContactTier(models.Model):
    """One step of the escalation chain; the lowest position is told first, the next one after
    ``INCIDENT_ESCALATE_AFTER_MINUTES`` without an acknowledgement."""

    name = models.CharField(max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(unique=True, help_text="Order in the chain: 1 is told first.")
    responsibility = models.TextField(blank=True, default="", help_text="What this tier does (from the runbook).")

    class Meta:
        db_table = "incident_contact_tiers"
        ordering = ["position"]

    def __str__(self):
        return self.name


class Contact(models.Model):
    """A person of a tier: told by mail and/or webhook; the phone is printed in the communication template."""

    tier = models.ForeignKey(ContactTier, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(max_length=150)
    email = models.EmailField(blank=True, default="")
    phone = models.CharField(max_length=40, blank=True, default="")
    webhook_url = models.CharField(
        max_length=500,
        blank=True,
        default="",
        validators=[URLValidator(schemes=["http", "https"])],
        help_text="A JSON POST goes here (Slack/Teams incoming webhook, pager…).",
    )
    position = models.PositiveSmallIntegerField(default=1, help_text="Order within the tier: 1 is called first.")
    is_active = models.BooleanField(default=True)

    class Meta:
        db_table = "incident_contacts"
        ordering = ["tier__position", "position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(email="") | ~Q(phone="") | ~Q(webhook_url=""), name="incident_contact_reachable"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.tier})"


# The CSS class of each severity's pill (panel.css: critical red, warning amber, off grey).
SEVERITY_PILL = {Severity.CRITICAL: "critical", Severity.HIGH: "warning", Severity.MEDIUM: "off"}


class Incident(models.Model):
    """An incident of the Mode Switching deployment, opened by hand or by the kill switch firing."""

    Source = IncidentSource

    severity = models.CharField(max_length=16, choices=Severity.choices)
    status = models.CharField(max_length=16, choices=IncidentStatus.choices, default=IncidentStatus.INVESTIGATING)
    issue = models.TextField(help_text="Brief description (the template's “Issue”).")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    # The event that opened it ("rollout-event:42"): unique, so one event never opens two incidents.
    trigger_key = models.CharField(max_length=100, null=True, blank=True, unique=True)
    alert = models.ForeignKey(Alert, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    owner = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    opened_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(default=timezone.now, help_text="When the problem began (the impact window).")
    resolved_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # The tier told last, and when: the next tier is told ESCALATE_AFTER_MINUTES later while nobody acknowledges.
    tier = models.ForeignKey(ContactTier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    tier_notified_at = models.DateTimeField(null=True, blank=True)
    next_update_at = models.DateTimeField(null=True, blank=True, help_text="Empty: upon resolution.")
    # The impact as last measured (every clock tick until resolved, then frozen).
    impact = models.JSONField(default=dict, blank=True)
    impact_measured_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "incidents"
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="incident_severity_valid"),
            models.CheckConstraint(condition=Q(status__in=IncidentStatus.values), name="incident_status_valid"),
            models.CheckConstraint(
                condition=Q(status="resolved", resolved_at__isnull=False)
                | (~Q(status="resolved") & Q(resolved_at=None)),
                name="incident_resolved_has_time",
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("started_at")),
                name="incident_resolved_after_start",
            ),
        ]
        indexes = [
            # The clock's questions (reminders, escalation, impact refresh) only ever look at open incidents.
            models.Index(fields=["next_update_at"], condition=~Q(status="resolved"), name="incident_open_next_idx"),
        ]

    def __str__(self):
        return f"Incident #{self.pk}: {self.title}"

    @property
    def title(self) -> str:
        first = (self.issue or "").strip().splitlines()[0] if (self.issue or "").strip() else "(no description)"
        return first if len(first) <= 90 else first[:89] + "…"

    @property
    def is_resolved(self) -> bool:
        return self.status == IncidentStatus.RESOLVED

    @property
    def severity_pill(self) -> str:
        return SEVERITY_PILL.get(self.severity, "off")


class IncidentUpdate(models.Model):
    """One posted update: the status at that moment, what was said, and when the next update is due."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="updates")
    author = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    author_name = models.CharField(max_length=150)
    status = models.CharField(max_length=16, choices=IncidentStatus.choices)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    message = models.TextField()
    next_update_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "incident_updates"
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"update of incident {self.incident_id} ({self.status})"


class IncidentNotification(OutboxMessage):
    """Everything the panel told someone about an incident, stored before it is sent (outbox): delivered by the
    incident clock, each channel retried until it worked or ``ALERT_NOTIFY_MAX_ATTEMPTS`` ran out."""

    class Kind(models.TextChoices):
        OPENED = "opened", "Incident opened: first tier told"
        ESCALATION = "escalation", "Escalated: not acknowledged in time"
        REMINDER = "reminder", "Reminder: update overdue"
        COMMUNICATION = "communication", "Communication template sent"
        PAGED = "paged", "Paged at once: the fault's kind names its team"
        CUSTOMER_NOTICE = "customer_notice", "Customer notice recorded"
        STATUS_PAGE = "status_page", "Status page updated"

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    tier = models.ForeignKey(ContactTier, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # Who it went to, in words (kept even if the contacts change later).
    audience = models.CharField(max_length=300)
    emails = models.JSONField(default=list, blank=True)
    webhooks = models.JSONField(default=list, blank=True)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    # Reminders: the "next update at" that passed (one reminder per missed time).
    due_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    # created_at, notified_at, delivered_to, attempts, last_error: the outbox's (adminpanel.outbox.OutboxMessage).

    class Meta:
        db_table = "incident_notifications"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident"], condition=Q(kind="opened"), name="incident_notification_opened_once"
            ),
            models.UniqueConstraint(
                fields=["incident", "tier"], condition=Q(kind="escalation"), name="incident_notification_escalate_once"
            ),
            models.UniqueConstraint(
                fields=["incident", "due_at"], condition=Q(kind="reminder"), name="incident_notification_remind_once"
            ),
        ]
        indexes = [models.Index(fields=["id"], condition=Q(notified_at=None), name="incident_notification_pending")]

    def __str__(self):
        return f"{self.get_kind_display()} for incident {self.incident_id}"

    @property
    def has_recipients(self) -> bool:
        return bool(self.emails or self.webhooks)

    @property
    def delivery(self) -> str:
        """The delivery state in words."""
        if self.notified_at:
            return "delivered"
        if not self.has_recipients:
            return "nobody to send to"
        if self.attempts >= settings.ALERT_NOTIFY_MAX_ATTEMPTS:
            return "given up"
        return "pending"


def ensure_contact_tiers(apps=None, **kwargs):
    """The runbook's three tiers exist (post_migrate, also after test flushes); admins add the people."""
    from django.apps import apps as global_apps

    try:
        tier_model = (apps or global_apps).get_model("monitoring", "ContactTier")
    except LookupError:
        return
    if tier_model.objects.exists():
        return  # admins may have renamed or reordered them: never recreate over their chain
    for position, name, responsibility in DEFAULT_TIERS:
        tier_model.objects.get_or_create(name=name, defaults={"position": position, "responsibility": responsibility})
