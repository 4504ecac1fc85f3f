"""Incidents and escalation (DESIGN.md section 4c): the write paths.

- opening: by hand (``open_incident``), or by itself when the kill switch fires (``open_incident_for_event``, which
  the rollout calls inside its kill-switch transaction: one incident per event, however many callers race);
- acknowledging, posting updates (status, next update at), resolving, and sending the communication template to a
  tier of the contact chain;
- impact measured and refreshed until resolved (the clock's reminders, escalation and delivery are in
  ``monitoring.incidents.escalation``; who is told, in ``monitoring.incidents.contact_chain``).

Each function takes keyword-only arguments, runs in its own transaction, checks the actor's permission inside it
(views check first for a quick 403; this is the check that counts) and writes a panel_events row.
"""

import logging
from datetime import datetime, timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.utils import timezone

from adminpanel.audit import record_event
from adminpanel.roles import can_handle_incidents
from monitoring.incidents import selectors as incident_selectors
from monitoring.incidents.contact_chain import (
    NOTIFY_KIND,
    _page_by_kind,
    _queue,
    _tell_first_tier,
    tier_audience,
)
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


# --- Impact ------------------------------------------------------------------------------------------------
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

