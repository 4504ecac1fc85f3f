"""The kill switch (runbook rollback Option A): pulling and releasing it, and the incident each pull opens."""

import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from monitoring.enums import IncidentSource
from monitoring.incidents import selectors as incident_selectors
from monitoring.incidents import services as incidents
from rollout import permissions
from rollout.errors import NotAllowed, RolloutError
from rollout.events.selectors import incident_trigger_key
from rollout.events.services import _NamedActor, _record, _require_reason
from rollout.flags.services import _bump_flags, _flag_snapshot
from rollout.killswitch.selectors import kill_switch_identity
from rollout.models import EventKind, FeatureFlag, RolloutEvent, Stage
from rollout.stages.services import _bump_state, locked_state

logger = logging.getLogger(__name__)


# --- Kill switch (runbook rollback Option A) ------------------------------------------------------
def pull_kill_switch(*, actor, reason: str, alert=None, rehearsal: bool = False) -> bool:
    """Both flags off for every bar, allow-lists and data kept, rollout paused; one transaction.

    `rehearsal=True` (Phase 1's rollback rehearsal, DESIGN §4d) opens no incident and pages no one: it is recorded on
    the timeline like any pull, with the rehearsal's reason.

    `actor=None` with an `alert` is the automatic rollback; a :func:`named_actor` is an Alertmanager trigger an
    admin allowed to pull it (rollout/killswitch/alert_hooks.py: its secret is its permission). Returns False when
    the switch was already engaged.
    """
    reason = _require_reason(reason)
    with transaction.atomic():
        if actor is not None and not isinstance(actor, _NamedActor) and not permissions.can_trigger_rollback(actor):
            raise NotAllowed("The kill switch needs the permission rollout.trigger_rollback.")
        state = locked_state()
        flags = list(FeatureFlag.objects.select_for_update().order_by("pk"))
        if all(flag.kill_switch_engaged for flag in flags):
            return False
        now = timezone.now()
        before = {flag.key: _flag_snapshot(flag) for flag in flags}
        FeatureFlag.objects.filter(pk__in=[flag.pk for flag in flags]).update(
            kill_switch_engaged=True, enabled_globally=False, version=F("version") + 1, updated_at=now
        )
        paused_before = state.paused
        state.paused = True
        _bump_state(state, now)
        after = {flag.key: _flag_snapshot(flag) for flag in FeatureFlag.objects.order_by("pk")}
        event = _record(
            kind=EventKind.AUTO_ROLLBACK if actor is None else EventKind.KILL_SWITCH, actor=actor, target=state,
            stage_before=state.stage, stage_after=state.stage, before={"flags": before, "paused": paused_before},
            after={"flags": after, "paused": True}, reason=reason, alert=alert,
        )  # fmt: skip
        if not rehearsal:
            _open_incident(event=event, actor=actor, alert=alert)
        return True


def release_kill_switch(*, actor, reason: str, expected: str | None = None) -> bool:
    """Undo the kill switch: both flags back on for their allow-listed bars (never on for every bar), audited with
    the reason; the rollout stays paused until someone resumes it. Returns False when it was not engaged.

    `expected` (selectors.kill_switch_identity of the confirmed page) refuses to release another kill switch than
    the one the person confirmed (released and pulled again meanwhile)."""
    reason = _require_reason(reason)
    with transaction.atomic():
        flags = list(FeatureFlag.objects.select_for_update().order_by("pk"))
        if (
            expected is not None
            and any(flag.kill_switch_engaged for flag in flags)
            and (kill_switch_identity() != expected)
        ):
            raise RolloutError(
                "This kill switch is not the one you confirmed releasing (it was released and pulled again "
                "since): nothing changed. Open the release page again to see the current one."
            )
        if actor is not None and not (
            permissions.can_trigger_rollback(actor) and all(permissions.can_flip(actor, flag) for flag in flags)
        ):
            raise NotAllowed(
                "Releasing the kill switch needs rollout.trigger_rollback and rollout.flip_flag on both flags."
            )
        state = locked_state()
        engaged = [flag for flag in flags if flag.kill_switch_engaged]
        if not engaged:
            return False
        now = timezone.now()
        before = {flag.key: _flag_snapshot(flag) for flag in flags}
        FeatureFlag.objects.filter(pk__in=[flag.pk for flag in engaged]).update(kill_switch_engaged=False)
        _bump_flags(now)
        _bump_state(state, now)
        after = {flag.key: _flag_snapshot(flag) for flag in FeatureFlag.objects.order_by("pk")}
        _record(
            kind=EventKind.KILL_SWITCH_RELEASE, actor=actor, target=state, stage_before=state.stage,
            stage_after=state.stage, before={"flags": before, "kill_switch": True},
            after={"flags": after, "kill_switch": False, "paused": state.paused}, reason=reason,
        )  # fmt: skip
        return True


def _open_incident(*, event: RolloutEvent, actor, alert) -> None:
    """The incident of this kill switch (DESIGN.md 4c), committed with it: one per timeline event. In a savepoint,
    so that a failure here is logged and never keeps the flags on."""
    automatic = event.kind == EventKind.AUTO_ROLLBACK
    if automatic:
        what = "Automatic rollback: critical alert"
        what += f" on {incident_selectors.check_label(alert.check_name)}" if alert is not None else ""
    else:
        what = f"Kill switch pulled by {actor}: {event.reason}"
    what += "" if what.endswith((".", "!", "?")) else "."  # the issue reads as sentences once on one line
    issue = (
        f"{what}\n{event.reason if automatic else ''} Both flags are off for every bar (runbook rollback option A); "
        "the data is kept."
    )
    try:
        with transaction.atomic():
            incidents.open_incident_for_event(
                trigger_key=incident_trigger_key(event.pk),
                source=IncidentSource.AUTO_ROLLBACK if automatic else IncidentSource.KILL_SWITCH,
                issue=issue.strip(),
                started_at=min(alert.opened_at, event.created_at) if alert is not None else event.created_at,
                alert=alert,
                opened_by=actor,
                # An automatic rollback while bars are switched: their customers saw the fault.
                fault_kind="customer" if automatic and event.stage_before != Stage.OFF else "",
            )
    except Exception:
        logger.exception("No incident could be opened for rollout event %s", event.pk)


def note_on_incident(incident, *, actor, message: str) -> None:
    """An update on an open incident saying what a rollback did (its status kept); a failure is logged, never raised
    into the rollback that already happened."""
    next_update_at = incident.next_update_at
    if next_update_at is not None and next_update_at <= timezone.now():
        next_update_at = None
    try:
        with transaction.atomic():
            incidents.post_update(actor=actor, incident_id=incident.pk, status=incident.status, message=message,
                                  next_update_at=next_update_at)  # fmt: skip
    except Exception:
        logger.exception("Incident #%s could not be told: %s", incident.pk, message)
