"""Incidents and escalation (DESIGN.md section 4c): the write paths.

- opening: by hand (``open_incident``), or by itself when the kill switch fires (``open_incident_for_event``, which
  the rollout calls inside its kill-switch transaction: one incident per event, however many callers race);
- acknowledging, posting updates (status, next update at), resolving, and sending the communication template to a
  tier of the contact chain;
- the clock (``run_incident_clock``, a beat task every minute; tests pass ``now`` instead of sleeping): impact
  refreshed until resolved, owners reminded when a "next update at" passes without an update, unacknowledged
  incidents escalated to the next tier after ``INCIDENT_ESCALATE_AFTER_MINUTES`` (per severity), and every stored
  notification delivered by mail/webhook through monitoring/notifications.py with its retries.

Each function takes keyword-only arguments, runs in its own transaction, checks the actor's permission inside it
(views check first for a quick 403; this is the check that counts) and writes a panel_events row.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from adminpanel import db_sessions
from adminpanel.audit import record_event
from adminpanel.roles import can_handle_incidents
from monitoring import communication, incident_selectors, notifications
from monitoring.models import (
    ContactTier,
    Incident,
    IncidentNotification,
    IncidentStatus,
    IncidentUpdate,
    Severity,
)

logger = logging.getLogger(__name__)

ISSUE_MAX = 4000
MESSAGE_MAX = 4000
# A start typed a little ahead of the server's clock is still "now"; further ahead is a mistake.
CLOCK_SKEW = timedelta(minutes=2)
# pg_try_advisory_lock key: "incident" in ASCII, so it never meets another feature's lock by chance.
CLOCK_LOCK_KEY = 0x696E636964656E74
NOTIFY_KIND = IncidentNotification.Kind


# --- Domain errors (turned into messages and statuses by the views) ---------------------------------------
class IncidentError(Exception):
    """Base of every refusal; the message is meant for the person who asked."""


class NotAllowed(IncidentError):
    pass


class InvalidIncident(IncidentError):
    pass


class IncidentClosed(IncidentError):
    pass


class UnknownIncident(IncidentError):
    pass


# --- Helpers ---------------------------------------------------------------------------------------------
def _require(actor) -> None:
    if not can_handle_incidents(actor):
        raise NotAllowed("Only support staff, product owners and admins handle incidents.")


def _clean_text(value: str, *, what: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise InvalidIncident(f"The {what} is required.")
    if "\x00" in text:
        raise InvalidIncident(f"The {what} contains a NUL character.")
    if len(text) > limit:
        raise InvalidIncident(f"The {what} is longer than {limit} characters.")
    return text


def _check_choice(value: str, choices, *, what: str) -> str:
    if value not in choices.values:
        raise InvalidIncident(f"Unknown {what} {value!r}: choose one of {', '.join(choices.labels)}.")
    return value


def _snapshot(incident: Incident) -> dict:
    """The incident's state as the audit trail keeps it (names, not ids)."""
    return {
        "severity": incident.severity,
        "status": incident.status,
        "owner": incident.owner.username if incident.owner_id and incident.owner else None,
        "next_update_at": incident.next_update_at.isoformat() if incident.next_update_at else None,
        "acknowledged": bool(incident.acknowledged_at),
        "tier": incident.tier.name if incident.tier_id and incident.tier else None,
    }


def _locked(incident_id: int) -> Incident:
    incident = Incident.objects.select_for_update(of=("self",)).select_related("owner", "tier").filter(pk=incident_id)
    found = incident.first()
    if found is None:
        raise UnknownIncident("No such incident.")
    return found


def first_tier() -> ContactTier | None:
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


# --- Opening ---------------------------------------------------------------------------------------------
def open_incident(*, actor, severity: str, issue: str, started_at: datetime | None = None, owner=None,
                  next_update_at: datetime | None = None, now: datetime | None = None) -> Incident:  # fmt: skip
    """Open an incident by hand (support, product owners, admins); the first tier of the chain is told. Audited."""
    now = now or timezone.now()
    _check_choice(severity, Severity, what="severity")
    issue = _clean_text(issue, what="issue description", limit=ISSUE_MAX)
    started_at = started_at or now
    if started_at > now + CLOCK_SKEW:
        raise InvalidIncident("The start cannot be in the future.")
    if next_update_at is not None and next_update_at <= now:
        raise InvalidIncident("The next update must be in the future.")
    with transaction.atomic():
        _require(actor)
        if owner is not None and not can_handle_incidents(owner):
            raise InvalidIncident(f"{owner} cannot own an incident (support, product owners and admins can).")
        incident = Incident.objects.create(
            severity=severity,
            issue=issue,
            source=Incident.Source.MANUAL,
            owner=owner or actor,
            opened_by=actor,
            opened_at=now,
            started_at=started_at,
            next_update_at=next_update_at,
        )
        _store_impact(incident, now=now)
        _tell_first_tier(incident, now=now)
        record_event(actor=actor, action="incident.open", target=incident, after=_snapshot(incident), reason=issue)
    return incident


def open_incident_for_event(*, trigger_key: str, source: str, issue: str, started_at: datetime, alert=None,
                            opened_by=None, severity: str = Severity.CRITICAL, fault_kind: str = "",
                            now: datetime | None = None) -> tuple[Incident, bool]:  # fmt: skip
    """The incident of one event (the kill switch firing, an automatic rollback): created once per `trigger_key`
    whatever the number of concurrent callers (a unique constraint decides), the first tier told. Returns the
    incident and whether this call created it. Audited, with the system as actor when `opened_by` is None."""
    now = now or timezone.now()
    _check_choice(source, Incident.Source, what="source")
    issue = _clean_text(issue, what="issue description", limit=ISSUE_MAX)
    with transaction.atomic():
        existing = Incident.objects.filter(trigger_key=trigger_key).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    severity=severity,
                    issue=issue,
                    source=source,
                    trigger_key=trigger_key,
                    alert=alert,
                    opened_by=opened_by if getattr(opened_by, "pk", None) else None,
                    opened_at=now,
                    started_at=min(started_at, now),
                )
        except IntegrityError:
            # Another caller created it first (and committed): that one is the incident of this event.
            existing = Incident.objects.filter(trigger_key=trigger_key).first()
            if existing is None:
                raise
            return existing, False
        # Nothing slow inside the caller's transaction (the kill switch holds the rollout's locks): the impact is
        # measured once it has committed, and by the clock every minute after.
        _tell_first_tier(incident, now=now, measure=False)
        if fault_kind:
            _page_by_kind(incident, kind=fault_kind, now=now)
        transaction.on_commit(partial(refresh_impact, incident_id=incident.pk))
        record_event(
            actor=opened_by,
            action="incident.open",
            target=incident,
            after={**_snapshot(incident), "trigger": trigger_key, "source": source},
            reason=f"Opened by itself: {incident.get_source_display()}.",
        )
    return incident, True


# --- Acknowledging, updates, resolving -------------------------------------------------------------------
def acknowledge_incident(*, actor, incident_id: int, now: datetime | None = None) -> Incident:
    """Someone is on it: escalation stops; the acknowledger becomes the owner if there is none. Audited; a second
    acknowledgement changes nothing."""
    now = now or timezone.now()
    with transaction.atomic():
        _require(actor)
        incident = _locked(incident_id)
        if incident.is_resolved:
            raise IncidentClosed("This incident is resolved.")
        if incident.acknowledged_at:
            return incident
        before = _snapshot(incident)
        incident.acknowledged_at, incident.acknowledged_by = now, actor
        if incident.owner_id is None:
            incident.owner = actor
        incident.save(update_fields=["acknowledged_at", "acknowledged_by", "owner"])
        record_event(actor=actor, action="incident.acknowledge", target=incident, before=before,
                     after=_snapshot(incident))  # fmt: skip
    return incident


def post_update(*, actor, incident_id: int, status: str, message: str, severity: str | None = None,
                next_update_at: datetime | None = None, owner=None,
                now: datetime | None = None) -> IncidentUpdate:  # fmt: skip
    """Post an update: the status (Resolved closes the incident and freezes its impact), what was done and when
    the next update is due (None: upon resolution). Posting acknowledges the incident. Audited."""
    now = now or timezone.now()
    _check_choice(status, IncidentStatus, what="status")
    if severity is not None:
        _check_choice(severity, Severity, what="severity")
    message = _clean_text(message, what="update", limit=MESSAGE_MAX)
    resolving = status == IncidentStatus.RESOLVED
    if resolving:
        next_update_at = None
    elif next_update_at is not None and next_update_at <= now:
        raise InvalidIncident("The next update must be in the future.")
    with transaction.atomic():
        _require(actor)
        if owner is not None and not can_handle_incidents(owner):
            raise InvalidIncident(f"{owner} cannot own an incident (support, product owners and admins can).")
        incident = _locked(incident_id)
        if incident.is_resolved:
            raise IncidentClosed("This incident is resolved; open a new one if the problem is back.")
        before = _snapshot(incident)
        incident.status = status
        incident.severity = severity or incident.severity
        incident.next_update_at = next_update_at
        incident.owner = owner or incident.owner or actor
        if not incident.acknowledged_at:
            incident.acknowledged_at, incident.acknowledged_by = now, actor
        if resolving:
            incident.resolved_at = max(now, incident.started_at)
        incident.save()
        # Every update measures the impact again (resolving freezes it at the resolution time).
        _store_impact(incident, now=incident.resolved_at or now)
        update = IncidentUpdate.objects.create(
            incident=incident,
            author=actor,
            author_name=actor.username,
            status=status,
            severity=incident.severity,
            message=message,
            next_update_at=next_update_at,
            created_at=now,
        )
        record_event(
            actor=actor,
            action="incident.resolve" if resolving else "incident.update",
            target=incident,
            before=before,
            after={**_snapshot(incident), "update": update.pk},
            reason=message,
        )
    return update


def send_communication(*, actor, incident_id: int, tier_id: int, now: datetime | None = None) -> IncidentNotification:
    """Send the communication template, as it stands now, to a tier's contacts (stored, then delivered by the
    clock). Audited."""
    now = now or timezone.now()
    with transaction.atomic():
        _require(actor)
        incident = _locked(incident_id)
        tier = ContactTier.objects.filter(pk=tier_id).first()
        if tier is None:
            raise InvalidIncident("No such tier in the contact chain.")
        audience = tier_audience(tier)
        if not (audience.emails or audience.webhooks):
            raise InvalidIncident(
                f"The {tier.name} has no active contact with an e-mail or a webhook: add one in the Django admin."
            )
        sent = _queue(
            incident=incident,
            kind=NOTIFY_KIND.COMMUNICATION,
            audience=audience,
            lead=f"status {incident.get_status_display().lower()}: {incident.title}",
            tier=tier,
            actor=actor,
            now=now,
        )
        record_event(
            actor=actor,
            action="incident.communicate",
            target=incident,
            after={"tier": tier.name, "notification": sent.pk, "to": audience.words},
        )
    return sent


# --- The clock: impact, reminders, escalation, delivery ---------------------------------------------------
def _store_impact(incident: Incident, *, now: datetime) -> None:
    impact = incident_selectors.measure_impact(start=incident.started_at, end=max(now, incident.started_at))
    incident.impact, incident.impact_measured_at = impact.as_json(), now
    Incident.objects.filter(pk=incident.pk).update(impact=incident.impact, impact_measured_at=now)


def refresh_impact(*, incident_id: int, now: datetime | None = None) -> bool:
    """Measure one open incident's impact now (after the kill switch's commit); a failure is logged and left to the
    clock's next tick. Returns whether it was stored."""
    try:
        incident = Incident.objects.exclude(status=IncidentStatus.RESOLVED).filter(pk=incident_id).first()
        if incident is None:
            return False
        _store_impact(incident, now=max(now or timezone.now(), incident.started_at))
    except Exception:
        logger.exception("The impact of incident %s could not be measured now; the clock will", incident_id)
        return False
    return True


def refresh_impacts(*, now: datetime, limit: int = 200) -> int:
    """Measure again the impact of every open incident (resolved ones keep the impact frozen at resolution)."""
    refreshed = 0
    for incident in Incident.objects.exclude(status=IncidentStatus.RESOLVED).order_by("pk")[:limit]:
        impact = incident_selectors.measure_impact(start=incident.started_at, end=max(now, incident.started_at))
        # The status test in the UPDATE keeps a resolution that committed meanwhile (and its frozen impact).
        refreshed += (
            Incident.objects.filter(pk=incident.pk)
            .exclude(status=IncidentStatus.RESOLVED)
            .update(impact=impact.as_json(), impact_measured_at=now)
        )
    return refreshed


def send_due_reminders(*, now: datetime) -> list[IncidentNotification]:
    """Remind the owner of every open incident whose "next update at" has passed without an update: once per
    missed time (a unique constraint holds it even if two clocks overlap). Audited."""
    reminded = IncidentNotification.objects.filter(
        incident=OuterRef("pk"), kind=NOTIFY_KIND.REMINDER, due_at=OuterRef("next_update_at")
    )
    sent = []
    with transaction.atomic():
        due = (
            Incident.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("owner", "tier")
            .exclude(status=IncidentStatus.RESOLVED)
            .filter(next_update_at__lte=now)
            .exclude(Exists(reminded))
            .order_by("pk")
        )
        for incident in due:
            late = max(0, round((now - incident.next_update_at).total_seconds() / 60))
            audience = owner_audience(incident)
            sent.append(
                _queue(
                    incident=incident,
                    kind=NOTIFY_KIND.REMINDER,
                    audience=audience,
                    lead=f"update overdue: it was due at {communication.utc(incident.next_update_at)} "
                    f"({late} min ago). Post an update on the incident page.",
                    tier=incident.tier,
                    due_at=incident.next_update_at,
                    now=now,
                )
            )
            record_event(
                actor=None,
                action="incident.remind",
                target=incident,
                after={"due_at": incident.next_update_at.isoformat(), "to": audience.words},
                reason="The next update was due and none was posted.",
            )
    return sent


def escalate_unacknowledged(*, now: datetime) -> list[IncidentNotification]:
    """Tell the next tier about every open incident nobody acknowledged within INCIDENT_ESCALATE_AFTER_MINUTES
    (per severity) of the last tier being told; the last tier is never passed. Audited."""
    escalated = []
    with transaction.atomic():
        waiting = (
            Incident.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("tier")
            .exclude(status=IncidentStatus.RESOLVED)
            .filter(acknowledged_at__isnull=True)
            .order_by("pk")
        )
        for incident in waiting:
            after = timedelta(minutes=settings.INCIDENT_ESCALATE_AFTER_MINUTES[incident.severity])
            since = incident.tier_notified_at or incident.opened_at
            if now < since + after:
                continue
            tier = next_tier(incident.tier)
            if tier is None:
                continue  # the whole chain has been told
            previous = incident.tier
            incident.tier, incident.tier_notified_at = tier, now
            incident.save(update_fields=["tier", "tier_notified_at"])
            minutes = round((now - since).total_seconds() / 60)
            audience = tier_audience(tier)
            escalated.append(
                _queue(
                    incident=incident,
                    kind=NOTIFY_KIND.ESCALATION,
                    audience=audience,
                    lead=f"escalated to the {tier.name}: nobody acknowledged it in {minutes} min"
                    f"{f' (the {previous.name} was told)' if previous else ''}.",
                    tier=tier,
                    now=now,
                )
            )
            record_event(
                actor=None,
                action="incident.escalate",
                target=incident,
                before={"tier": previous.name if previous else None},
                after={"tier": tier.name, "to": audience.words},
                reason=f"Not acknowledged within {after.total_seconds() / 60:g} minutes "
                f"({incident.get_severity_display()}).",
            )
    return escalated


def _channels(notification: IncidentNotification) -> dict:
    """Every recipient of a notification as its own channel, so a retry skips the ones already done."""
    data = {
        "event": notification.kind,
        "incident_id": notification.incident_id,
        "severity": notification.incident.severity,
        "status": notification.incident.status,
        "subject": notification.subject,
        "text": notification.body,
        "incident_url": incident_link(notification.incident),
    }
    channels = {}
    for address in notification.emails:
        send = partial(send_mail, notification.subject, notification.body, settings.DEFAULT_FROM_EMAIL, [address])
        channels[f"mail:{address}"] = (f"mail to {address}", send)
    for index, hook in enumerate(notification.webhooks):
        send = partial(notifications.post_webhook, url=hook["url"], data=data, timeout=settings.ALERT_WEBHOOK_TIMEOUT)
        channels[f"webhook:{index}"] = (f"webhook of {hook.get('name', 'a contact')}", send)
    return channels


def deliver_incident_notifications(*, limit: int = 100) -> int:
    """Send every stored incident notification not yet delivered, by mail and webhook with the alert channels'
    retries; what fails stays pending for the next tick until ALERT_NOTIFY_MAX_ATTEMPTS. Returns how many were
    delivered."""
    pending = (
        IncidentNotification.objects.filter(notified_at=None, attempts__lt=settings.ALERT_NOTIFY_MAX_ATTEMPTS)
        .exclude(Q(emails=[]) & Q(webhooks=[]))
        .select_related("incident")
        .order_by("id")[:limit]
    )
    return notifications.deliver_outbox(
        pending,
        send=lambda notification, skip: notifications.send_on_channels(_channels(notification), skip=skip),
        what="incident notification",
    )


@dataclass(frozen=True)
class ClockTick:
    refreshed: int
    reminders: list
    escalations: list
    delivered: int


def _try_lock() -> bool:
    return db_sessions.try_lock(CLOCK_LOCK_KEY)


def _unlock() -> None:
    db_sessions.unlock(CLOCK_LOCK_KEY)


def run_incident_clock(*, now: datetime | None = None) -> ClockTick | None:
    """One tick (beat, every INCIDENT_CLOCK_INTERVAL_SECONDS): refresh impacts, remind, escalate, deliver. None
    when another tick holds the lock (a session advisory lock: it dies with a killed worker's connection)."""
    now = now or timezone.now()
    if not _try_lock():
        logger.info("incident clock skipped: another tick is running")
        return None
    try:
        refreshed = refresh_impacts(now=now)
        reminders = send_due_reminders(now=now)
        escalations = escalate_unacknowledged(now=now)
        delivered = deliver_incident_notifications()
    finally:
        _unlock()
    return ClockTick(refreshed, reminders, escalations, delivered)
