"""Who is told about an incident: the contact chain's tiers, the audience of a tier or of the owner, and the
stored notification (the incident outbox: the lead line, then the communication template as it stands)."""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.urls import reverse

from monitoring.incidents import communication
from monitoring.incidents import selectors as incident_selectors
from monitoring.models import ContactTier, Incident, IncidentNotification

NOTIFY_KIND = IncidentNotification.Kind


def first_tier() -> ContactTier | None:
    """The first tier of the contact chain (None while the chain is empty)."""
    return ContactTier.objects.order_by("position").first()


def next_tier(tier: ContactTier | None) -> ContactTier | None:
    """The tier after `tier` in the chain (the first one when the incident has none yet)."""
    if tier is None:
        return first_tier()
    return ContactTier.objects.filter(position__gt=tier.position).order_by("position").first()


@dataclass(frozen=True)
class Audience:
    words: str
    emails: list[str] = field(default_factory=list)
    webhooks: list[dict] = field(default_factory=list)


def tier_audience(tier: ContactTier | None) -> Audience:
    """Who a tier's notification goes to: its active contacts' e-mails and webhooks."""
    if tier is None:
        return Audience("nobody: the contact chain is empty (add tiers in the Django admin)")
    contacts = incident_selectors.tier_contacts(tier)
    names = ", ".join(contact.name for contact in contacts) or "no contacts yet"
    return Audience(
        f"{tier.name} ({names})",
        emails=[contact.email for contact in contacts if contact.email],
        webhooks=[{"name": contact.name, "url": contact.webhook_url} for contact in contacts if contact.webhook_url],
    )


def owner_audience(incident: Incident) -> Audience:
    """A reminder goes to the owner's e-mail and the on-call webhook (ALERT_WEBHOOK_URL); an incident without an
    owner (or an owner without an e-mail) reminds the tier told last instead."""
    owner = incident.owner
    if owner is None or not owner.email:
        return tier_audience(incident.tier)
    webhooks = [{"name": "on-call webhook", "url": settings.ALERT_WEBHOOK_URL}] if settings.ALERT_WEBHOOK_URL else []
    return Audience(f"owner {owner} ({owner.email})", emails=[owner.email], webhooks=webhooks)


def incident_link(incident: Incident) -> str:
    """The incident page's address for a mail or webhook: absolute when PANEL_URL says where the panel is."""
    return f"{settings.PANEL_URL}{reverse('monitoring:incident', args=[incident.pk])}"


def _queue(*, incident: Incident, kind: str, audience: Audience, lead: str, tier=None, due_at=None, actor=None,
           now: datetime, measure: bool = True) -> IncidentNotification:  # fmt: skip
    """Store one notification (the outbox): the lead line, then the communication template as it stands now."""
    text = communication.render_text(communication.communication_for(incident, now=now, measure=measure))
    subject = f"[BarTender incident #{incident.pk}] {incident.get_severity_display()}: {lead}"
    return IncidentNotification.objects.create(
        incident=incident,
        kind=kind,
        tier=tier,
        audience=audience.words[:300],
        emails=audience.emails,
        webhooks=audience.webhooks,
        subject=subject[:300],
        body=f"{lead}\nIncident page: {incident_link(incident)}\n\n{text}",
        due_at=due_at,
        actor=actor if getattr(actor, "pk", None) else None,
        created_at=now,
    )


def _tell_first_tier(incident: Incident, *, now: datetime, measure: bool = True) -> IncidentNotification:
    tier = first_tier()
    incident.tier, incident.tier_notified_at = tier, now
    incident.save(update_fields=["tier", "tier_notified_at"])
    return _queue(
        incident=incident,
        kind=NOTIFY_KIND.OPENED,
        audience=tier_audience(tier),
        lead=f"incident opened ({incident.get_source_display()}): {incident.title}",
        tier=tier,
        now=now,
        measure=measure,
    )


# The runbook's escalation "by condition" (DESIGN §4c): a migration or database issue goes to DevOps/Database, customer
# impact to Product/Business, at once rather than after the time-based escalation. The tiers by their position.
FAULT_KINDS = {
    "database": ("a database fault", "INCIDENT_DATABASE_TIER_POSITION"),
    "customer": ("customer impact (switched bars affected)", "INCIDENT_CUSTOMER_TIER_POSITION"),
}


def _page_by_kind(incident: Incident, *, kind: str, now: datetime) -> IncidentNotification | None:
    """Page the tier that owns this kind of fault at once; the incident escalates from that tier on."""
    words, setting = FAULT_KINDS[kind]
    tier = ContactTier.objects.filter(position=getattr(settings, setting)).first()
    if tier is None or tier == incident.tier:
        return None
    incident.tier, incident.tier_notified_at = tier, now
    incident.save(update_fields=["tier", "tier_notified_at"])
    return _queue(
        incident=incident, kind=NOTIFY_KIND.PAGED, audience=tier_audience(tier), tier=tier, now=now, measure=False,
        lead=f"paged at once for {words}: {incident.title}",
    )  # fmt: skip
