"""Flag write paths: flipping a flag and editing its allow-list, locked, permission-checked and on the timeline."""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from rollout import permissions
from rollout.errors import KILL_SWITCH_HOLDS, InvalidRequest, KillSwitchEngaged, NotAllowed
from rollout.events.services import _record, _require_reason
from rollout.models import EventKind, FeatureFlag, FlagState


def _bump_flags(now) -> None:
    # Any change to who gets a flag changes every flag's version: the flag API's ETag follows it.
    FeatureFlag.objects.update(version=F("version") + 1, updated_at=now)


def _flag_snapshot(flag: FeatureFlag) -> dict:
    return {"state": flag.state, "enabled_globally": flag.enabled_globally, "kill_switch": flag.kill_switch_engaged}


# --- Flags ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FlagFlip:
    """What a flip did: `applied` is False when the flag already was in that state (nothing written)."""

    flag: FeatureFlag
    applied: bool

    @property
    def message(self) -> str:
        if self.applied:
            return f"{self.flag.key} flipped: now {self.flag.state_label}."
        return f"{self.flag.key} already was {self.flag.state_label}: nothing changed, nothing recorded."


def flip_flag(*, actor, flag_key: str, state: str, reason: str) -> FlagFlip:
    """Set a flag to off (kill switch), allow-list only, or on for every bar; needs `flip_flag` on that flag.

    A flip to the state the flag already has changes nothing and writes no event (the history only holds
    changes); the result says so.
    """
    reason = _require_reason(reason)
    if state not in FlagState.values:
        raise InvalidRequest(f"Unknown flag state {state!r}.")
    with transaction.atomic():
        flag = FeatureFlag.objects.select_for_update().filter(key=flag_key).first()
        if flag is None:
            raise InvalidRequest(f"Unknown flag {flag_key!r}.")
        if not permissions.can_flip(actor, flag):
            raise NotAllowed(f"You may not flip {flag.key}.")
        before = _flag_snapshot(flag)
        if flag.state == state:
            return FlagFlip(flag=flag, applied=False)
        if flag.kill_switch_engaged:
            # One way back from the kill switch (release_kill_switch, audited with its reason), never a flip.
            raise KillSwitchEngaged(KILL_SWITCH_HOLDS)
        now = timezone.now()
        flag.kill_switch_engaged = state == FlagState.OFF
        flag.enabled_globally = state == FlagState.GLOBAL
        flag.version = F("version") + 1
        flag.updated_at = now
        flag.save()
        flag.refresh_from_db()
        _record(
            kind=EventKind.FLAG_FLIP, actor=actor, target=flag, flag=flag, before=before,
            after=_flag_snapshot(flag), reason=reason,
        )  # fmt: skip
        return FlagFlip(flag=flag, applied=True)


def change_allow_list(*, actor, flag_key: str, bar, add: bool, reason: str) -> bool:
    """Add the bar to (or remove it from) the flag's allow-list; returns whether anything changed."""
    reason = _require_reason(reason)
    with transaction.atomic():
        flag = FeatureFlag.objects.select_for_update().filter(key=flag_key).first()
        if flag is None:
            raise InvalidRequest(f"Unknown flag {flag_key!r}.")
        if not permissions.can_flip(actor, flag):
            raise NotAllowed(f"You may not change the allow-list of {flag.key}.")
        listed = flag.allowed_bars.filter(pk=bar.pk).exists()
        if listed == add:
            return False
        (flag.allowed_bars.add if add else flag.allowed_bars.remove)(bar)
        now = timezone.now()
        FeatureFlag.objects.filter(pk=flag.pk).update(version=F("version") + 1, updated_at=now)
        _record(
            kind=EventKind.ALLOW_LIST, actor=actor, target=flag, flag=flag,
            before={"bar": str(bar.pk), "bar_name": bar.name, "listed": listed},
            after={"bar": str(bar.pk), "bar_name": bar.name, "listed": add}, reason=reason,
        )  # fmt: skip
        return True
