"""The incident clock (``run_incident_clock``, a beat task every minute; tests pass ``now`` instead of sleeping):
impact refreshed until resolved, owners reminded when a "next update at" passes without an update, unacknowledged
incidents escalated to the next tier after ``INCIDENT_ESCALATE_AFTER_MINUTES`` (per severity), and every stored
notification delivered by mail/webhook through the one outbox loop (``adminpanel.outbox``) with its retries."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from adminpanel import db_sessions, outbox
from adminpanel.audit import record_event
from monitoring.incidents import communication
from monitoring.incidents.contact_chain import (
    NOTIFY_KIND,
    _queue,
    incident_link,
    next_tier,
    owner_audience,
    tier_audience,
)
from monitoring.incidents.services import refresh_impacts
from monitoring.models import Incident, IncidentNotification, IncidentStatus

logger = logging.getLogger(__name__)

# pg_try_advisory_lock key: "incident" in ASCII, so it never meets another feature's lock by chance.
CLOCK_LOCK_KEY = 0x696E636964656E74


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
        send = partial(outbox.post_webhook, url=hook["url"], data=data, timeout=settings.ALERT_WEBHOOK_TIMEOUT)
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
    return outbox.deliver(
        pending,
        send=lambda notification, skip: outbox.send_on_channels(_channels(notification), skip=skip),
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
