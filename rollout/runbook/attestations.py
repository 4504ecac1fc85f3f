"""What people put on record during a deployment: a 4a checklist item attested with a link (where the data cannot
show it), and a decision (proceed, roll back, abort). Each is one timeline event, mirrored in panel_events
(who, when, before, after, why); the permission is checked here, inside the transaction."""

from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from rollout import permissions
from rollout.errors import InvalidRequest, NotAllowed
from rollout.events.services import record_rollout_event
from rollout.models import Decision, EventKind, RolloutState
from rollout.runbook import checklist
from rollout.stages.services import locked_state

NOTE_MAX = 2000


def _clean_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if not url:
        raise InvalidRequest("Give a link to what you looked at (a screenshot, a ticket or a recording).")
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500 or any(c.isspace() for c in url):
        raise InvalidRequest(f"“{url[:80]}” is not a web address: give an http or https link.")
    return url


def attest_item(*, actor, item: str, url: str, note: str) -> object:
    """Attest a checklist item the data cannot show, with a link and a note; refused without the permission to
    advance stages, for an item the panel measures itself, or before stage 4a started."""
    if item not in checklist.ATTESTED:
        raise InvalidRequest("That item is measured by the panel; it cannot be attested by hand.")
    url = _clean_url(url)
    note = (note or "").strip()[:NOTE_MAX]
    if not note:
        raise InvalidRequest("Say in a note what you compared and what you saw.")
    with transaction.atomic():
        if not permissions.can_operate_stages(actor):
            raise NotAllowed("Attesting a 4a checklist item needs a product owner holding flip_flag on both flags.")
        state = locked_state()
        since, _ = checklist.stage_4a_window(now=timezone.now())
        if since is None:
            raise InvalidRequest("Stage 4a has not started: there is nothing to attest yet.")
        before = checklist.attestations(since=since).get(item)
        return record_rollout_event(
            kind=EventKind.CHECKLIST_ATTEST, actor=actor, target=state, reason=note,
            before={"item": item, "attestation": before},
            after={"item": item, "label": checklist.ITEMS[item], "url": url, "stage": state.stage},
        )  # fmt: skip


def record_decision(*, actor, decision: str, reason: str, incident: int | None = None) -> object:
    """Record a decision (proceed, roll back, abort) with its reason, and the incident it answers if any."""
    if decision not in Decision.values:
        raise InvalidRequest("Choose proceed, roll back or abort.")
    reason = (reason or "").strip()[:NOTE_MAX]
    if not reason:
        raise InvalidRequest("Say why: a decision is kept with its reason.")
    with transaction.atomic():
        if not permissions.can_operate_stages(actor):
            raise NotAllowed("Recording a decision needs a product owner holding flip_flag on both flags.")
        state = RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)[0]
        return record_rollout_event(
            kind=EventKind.DECISION, actor=actor, target=state, reason=reason, stage_before=state.stage,
            stage_after=state.stage,
            after={"decision": decision, "label": Decision(decision).label, "incident": incident},
        )  # fmt: skip
