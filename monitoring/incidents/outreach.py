"""The people outside (runbook "Notify affected customers if needed" and "Update status page", DESIGN §4c).

A customer notice is drafted from the incident's measured impact (the bars and sales it touched); a person edits
it and records it as sent by the Product/Business team. A status-page update goes to ``STATUS_PAGE_WEBHOOK_URL``
through the incidents' outbox (stored first, delivered and retried by the incident clock). Both are recorded on
the incident as notifications and audited."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adminpanel.audit import record_event
from monitoring.incidents import selectors as incident_selectors
from monitoring.incidents.contact_chain import NOTIFY_KIND, Audience, _queue
from monitoring.incidents.services import InvalidIncident, _clean_text, _locked, _require
from monitoring.models import Incident, IncidentNotification

NOTICE_MAX = 5000


def customer_notice_draft(incident: Incident, *, now=None) -> str:
    """A first draft for the affected customers, from what the incident measurably touched."""
    impact = incident_selectors.incident_impact(incident, now=now or timezone.now())
    since = timezone.localtime(incident.started_at)
    bars = impact.bars_affected if impact else 0
    if not bars:
        scope = "Some bars using the new simplified mode may have been affected."
    else:
        plural = bars != 1
        scope = f"{bars} bar{'s' if plural else ''} in the new simplified mode {'were' if plural else 'was'} affected"
        if impact.sales_affected:
            scope += f"; {impact.sales_affected} sales were recorded without their server"
        scope += "."
    state = "resolved" if incident.is_resolved else "being worked on"
    return (
        f"Since {since:%H:%M} on {since:%d %B}, recording which server made a sale in simplified mode has not worked "
        f"as it should. {scope} Your sales and totals are safe. The issue is {state}; we will update you when it "
        "is fully resolved. We are sorry for the trouble."
    )


def _outreach(*, actor, incident_id: int, kind: str, text: str, audience: Audience, lead: str, action: str):
    with transaction.atomic():
        _require(actor)
        incident = _locked(incident_id)
        text = _clean_text(text, what="text", limit=NOTICE_MAX)
        sent = _queue(incident=incident, kind=kind, audience=audience, lead=lead, actor=actor, now=timezone.now())
        sent.body = text
        sent.save(update_fields=["body"])
        record_event(actor=actor, action=action, target=incident,
                     after={"notification": sent.pk, "to": audience.words, "text": text})  # fmt: skip
    return sent


def record_customer_notice(*, actor, incident_id: int, text: str) -> IncidentNotification:
    """Record the notice as sent to the affected customers by the Product/Business team (its text kept)."""
    return _outreach(
        actor=actor, incident_id=incident_id, kind=NOTIFY_KIND.CUSTOMER_NOTICE, text=text,
        audience=Audience("the affected bars' customers (sent by the Product/Business team)"),
        lead="customer notice", action="incident.customer_notice",
    )  # fmt: skip


def update_status_page(*, actor, incident_id: int, text: str) -> IncidentNotification:
    """Send a status-page update through STATUS_PAGE_WEBHOOK_URL (the outbox delivers and retries it)."""
    url = settings.STATUS_PAGE_WEBHOOK_URL
    if not url:
        raise InvalidIncident("STATUS_PAGE_WEBHOOK_URL is not set: update the status page by hand.")
    return _outreach(
        actor=actor, incident_id=incident_id, kind=NOTIFY_KIND.STATUS_PAGE, text=text,
        audience=Audience("the status page", webhooks=[{"name": "status page", "url": url}]),
        lead="status page update", action="incident.status_page",
    )  # fmt: skip
