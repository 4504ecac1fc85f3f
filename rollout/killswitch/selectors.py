"""The kill switch as a state: whether it is engaged, which one, since when, by whom and why."""

from dataclasses import dataclass

from adminpanel.request_memo import memoized
from rollout.models import EventKind, FeatureFlag, RolloutEvent


@dataclass(frozen=True)
class KillSwitchStatus:
    """The kill switch as a state: engaged since when, by whom, why (the event that pulled it)."""

    engaged: bool
    since: object = None
    by: str = ""
    reason: str = ""
    automatic: bool = False
    alert_id: int | None = None


def kill_switch_identity() -> str:
    """Which kill switch is engaged: the timeline event that pulled it and the engaged flags' versions (a switch
    released and pulled again is another one), or "" when none is. A release confirmation is bound to it."""
    engaged = list(FeatureFlag.objects.filter(kill_switch_engaged=True).order_by("pk").values_list("key", "version"))
    if not engaged:
        return ""
    event = (
        RolloutEvent.objects.filter(kind__in=[EventKind.KILL_SWITCH, EventKind.AUTO_ROLLBACK])
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return f"event {event}; " + ", ".join(f"{key} v{version}" for key, version in engaged)


def kill_switch_engaged() -> bool:
    """Whether any flag's kill switch is engaged; read once per page (adminpanel.request_memo)."""
    return memoized("kill_switch_engaged", lambda: FeatureFlag.objects.filter(kill_switch_engaged=True).exists())


def kill_switch_status() -> KillSwitchStatus:
    """The kill switch as a state: engaged since when, by whom and why."""
    if not kill_switch_engaged():
        return KillSwitchStatus(engaged=False)
    event = (
        RolloutEvent.objects.filter(kind__in=[EventKind.KILL_SWITCH, EventKind.AUTO_ROLLBACK]).order_by("-id").first()
    )
    if event is None:  # engaged by hand in the database or the Django admin
        flag = FeatureFlag.objects.filter(kill_switch_engaged=True).order_by("-updated_at").first()
        return KillSwitchStatus(engaged=True, since=flag.updated_at, by="someone outside the panel's controls")
    return KillSwitchStatus(
        engaged=True,
        since=event.created_at,
        by=event.actor_name,
        reason=event.reason,
        automatic=event.kind == EventKind.AUTO_ROLLBACK,
        alert_id=event.alert_id,
    )
