"""Recording panel state changes in the append-only `panel_events` table."""

from adminpanel.models import PanelEvent


def record_event(*, actor, action: str, target, before=None, after=None, reason: str = "", bar=None) -> PanelEvent:
    """Append one audit event: who (`actor`, may be None for the system), what, before, after, why."""
    return PanelEvent.objects.create(
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "username", None) or "system",
        action=action,
        target_type=target._meta.label_lower if hasattr(target, "_meta") else str(type(target).__name__),
        target_id=str(getattr(target, "pk", target)),
        bar=bar,
        before=before,
        after=after,
        reason=reason,
    )
