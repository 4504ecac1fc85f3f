"""Writing the rollout timeline: one event per change, mirrored in the panel-wide audit trail, and who is named."""

from dataclasses import dataclass

from adminpanel.audit import record_event
from rollout.errors import InvalidRequest
from rollout.models import RolloutEvent


# --- Helpers --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _NamedActor:
    """An actor that is not a user: stored with no user id, under its name (timeline and panel_events)."""

    username: str
    pk: None = None

    def __str__(self):
        return self.username


def named_actor(name: str) -> _NamedActor:
    """An actor that is no user (an Alertmanager trigger): its name is what the timeline and panel_events show."""
    return _NamedActor(name)


AUTOPILOT = _NamedActor("autopilot")


def _require_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("A reason is required.")
    return reason


def _record(*, kind: str, actor, target, **fields) -> RolloutEvent:
    """One timeline event, mirrored in the panel-wide audit trail (panel_events). ``actor`` may be a person, None
    (the system) or :data:`AUTOPILOT` (no user; its name is what the timeline shows)."""
    event = RolloutEvent.objects.create(
        kind=kind,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "username", None) or "system",
        **fields,
    )
    record_event(
        actor=actor,
        action=f"rollout.{kind}",
        target=target,
        before=fields.get("before"),
        after={**(fields.get("after") or {}), "rollout_event": event.pk},
        reason=fields.get("reason", ""),
    )
    return event


# The timeline writer for the rollout's other modules (the autopilot): one event, mirrored in panel_events.
record_rollout_event = _record
