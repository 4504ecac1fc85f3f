"""The runbook's communication template ("INCIDENT: Mode Switching Deployment Issue", Escalation Procedure)
filled from a live incident: time, severity, status, issue, impact with numbers, actions taken from the rollout
timeline, next update and the escalation contact from the chain; as plain text and as Markdown."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from django.template.loader import render_to_string
from django.utils import timezone

from monitoring.incidents import selectors as incident_selectors
from monitoring.incidents.selectors import Impact
from monitoring.models import ContactTier, Incident
from monitoring.signals import ActionTaken

TITLE = "INCIDENT: Mode Switching Deployment Issue"
UPON_RESOLUTION = "Upon Resolution"
MAX_ACTIONS = 10


@dataclass(frozen=True)
class Communication:
    incident: Incident
    time: str
    severity: str
    status: str
    issue: str
    impact: Impact | None
    impact_text: str
    action_kinds: str
    actions: list[str]
    more_actions: int
    next_update: str
    contact: str

    @property
    def title(self) -> str:
        return TITLE


def utc(moment: datetime) -> str:
    """The runbook writes times as "2025-12-24 14:30 UTC"."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


NOT_MEASURED = "being measured (see the incident page)"


def impact_text(impact: Impact | None) -> str:
    """The template's "[# of bars affected, # of sales affected]" in words, with what each number counts."""
    if impact is None:
        return NOT_MEASURED
    return (
        f"{impact.bars_affected} {_bars(impact.bars_affected)} affected "
        f"({impact.switched_bars} in simplified mode, {impact.bars_with_errors} with errors), "
        f"{impact.sales_affected} {_plural(impact.sales_affected, 'sale')} affected "
        f"(without server_id in simplified-mode bars; {impact.error_logs} error-level audit "
        f"{_plural(impact.error_logs, 'log')})"
    )


def _plural(count: int, word: str) -> str:
    return word if count == 1 else f"{word}s"


def _bars(count: int) -> str:
    return _plural(count, "bar")


def one_line(text) -> str:
    """Text people typed, as one line: every line break (\\n, \\r, U+2028…) and run of spaces becomes one space, so
    a reason can never forge a line of its own ("Status: Resolved") in the message the contact chain receives."""
    return " ".join(str(text or "").split())


def _action_line(action: ActionTaken) -> str:
    line = f"{utc(action.at)[11:]} {one_line(action.what)} ({one_line(action.actor)})"
    return f"{line}: {one_line(action.why)}" if action.why else line


def escalation_contact(tier: ContactTier | None) -> str:
    """The first active contact of the tier told last (else of the first tier): name, tier, phone or e-mail."""
    tier = tier or ContactTier.objects.order_by("position").first()
    contacts = incident_selectors.tier_contacts(tier)
    if not contacts:
        return f"{tier.name}: no contact yet (add one in the Django admin)" if tier else "No contact chain yet"
    person = contacts[0]
    reach = ", ".join(part for part in (person.phone, person.email) if part)
    return one_line(f"{person.name} ({tier.name}){', ' + reach if reach else ''}")


def communication_for(incident: Incident, *, now: datetime | None = None, measure: bool = True) -> Communication:
    """The template's fields from the incident as it stands (its impact as last measured). With ``measure=False``
    an impact never measured yet is not measured now (the kill switch's transaction must stay short)."""
    now = now or timezone.now()
    impact = incident_selectors.incident_impact(incident, now=now) if measure or incident.impact else None
    actions = incident_selectors.actions_taken(incident, now=now)
    kinds = list(dict.fromkeys(action.category for action in actions))
    if incident.is_resolved or incident.next_update_at is None:
        next_update = UPON_RESOLUTION if not incident.is_resolved else "None: resolved " + utc(incident.resolved_at)
    else:
        next_update = utc(incident.next_update_at)
    return Communication(
        incident=incident,
        time=utc(incident.started_at),
        severity=incident.get_severity_display(),
        status=incident.get_status_display(),
        issue=one_line(incident.issue),
        impact=impact,
        impact_text=impact_text(impact),
        action_kinds="/".join(kinds) if kinds else "None yet",
        actions=[_action_line(action) for action in actions[-MAX_ACTIONS:]],
        more_actions=max(0, len(actions) - MAX_ACTIONS),
        next_update=next_update,
        contact=escalation_contact(incident.tier),
    )


def render_text(communication: Communication) -> str:
    return render_to_string("monitoring/incident_communication.txt", {"c": communication}).strip() + "\n"


MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")


def markdown_escape(text: str) -> str:
    """Text shown as itself in Markdown, on one line: its punctuation cannot start emphasis, links, HTML or
    headings, and it cannot break into a line of its own."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", one_line(text))


def render_markdown(communication: Communication) -> str:
    """The same fields as Markdown; text that people typed (issue, reasons, names) is escaped."""
    escaped = {
        "issue": markdown_escape(communication.issue),
        "impact_text": markdown_escape(communication.impact_text),
        "actions": [markdown_escape(line) for line in communication.actions],
        "contact": markdown_escape(communication.contact),
    }
    context = {"c": communication, "md": escaped}
    return render_to_string("monitoring/incident_communication.md", context).strip() + "\n"
