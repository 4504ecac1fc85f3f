"""Risky rollout actions ask once, with their blast radius computed from the database (STYLE.md: "Advance to 4b
switches 4,403 bars"), and name their undo. The confirmation page carries a signed token binding the confirmed
action to the exact inputs and versions it was computed for; a POST without a valid token changes nothing.
"""

from dataclasses import dataclass, field

from django.db import connection

from adminpanel import confirmations
from adminpanel.models import Bar
from rollout.killswitch.selectors import kill_switch_identity
from rollout.models import FeatureFlag, FlagState, RolloutState, Stage, next_stage
from rollout.stages.selectors import remaining_in_stage

ConfirmationMissing = confirmations.ConfirmationMissing


@dataclass
class Confirmation:
    action: str
    title: str
    blast: str
    undo: str
    button: str
    bars: int
    fields: dict = field(default_factory=dict)
    token: str = ""
    danger: bool = False

    def sign(self, user) -> "Confirmation":
        """Bind the token to the user who is shown this page, the action and the state it shows (versions)."""
        self.token = confirmations.sign(user=user, action=self.action, fields=self.fields)
        return self


def check(token: str, *, user, action: str, fields: dict) -> None:
    """Raise ConfirmationMissing unless `token` confirms exactly this action with these inputs, by this user,
    recently, for the first time (adminpanel.confirmations)."""
    confirmations.check(token, user=user, action=action, fields=fields)


def _count(sql: str, params=None) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def bars_with_a_flag_on() -> int:
    """Bars for which at least one flag is on now (what the kill switch turns off)."""
    if FeatureFlag.objects.filter(kill_switch_engaged=False, enabled_globally=True).exists():
        return Bar.objects.count()
    return _count(
        "SELECT count(DISTINCT fb.bar_id) FROM feature_flag_bars fb JOIN feature_flags f ON f.id = fb.featureflag_id "
        "WHERE NOT f.kill_switch_engaged"
    )


def allow_listed_bars() -> int:
    """Bars on at least one allow-list (what releasing the kill switch turns back on)."""
    return _count("SELECT count(DISTINCT bar_id) FROM feature_flag_bars")


def _bars(n: int) -> str:
    return f"{n:,} bar{'s' if n != 1 else ''}"


def advance(*, user, version: int, batch_size: int | None, override_reason: str) -> Confirmation:
    state, _ = RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)
    remaining = remaining_in_stage(state.stage)
    target = state.stage if remaining else next_stage(state.stage)
    fields = {"version": version, "batch_size": batch_size, "override_reason": override_reason}
    if target is None:
        return Confirmation("advance", "Stage 4c is complete", "Every bar is in the rollout.", "", "", 0, fields)
    entering = target != state.stage
    bars = remaining_in_stage(target) if entering else remaining
    if batch_size:
        bars = min(bars, batch_size)
    label = Stage(target).label
    title = f"Advance to {label}" if entering else f"Next batch of {label}"
    blast = (
        f"{title} switches {_bars(bars)} to simplified mode and puts {'it' if bars == 1 else 'them'} on both "
        "allow-lists (bars that chose full mode stay as they are)."
    )
    if override_reason:
        blast += f" Closed gates are overridden because: “{override_reason}” (audited, shown in red)."
    return Confirmation(
        "advance", title, blast,
        f"Undo: “Roll back stage {label}” returns exactly these bars to no operating mode; the kill switch turns "
        "both flags off at once.",
        f"Yes, switch {_bars(bars)}", bars, fields,
    ).sign(user)  # fmt: skip


def flip(*, user, flag: FeatureFlag, state: str, reason: str) -> Confirmation:
    total = Bar.objects.count()
    listed = flag.allowed_bars.count()
    fields = {"flag": flag.key, "version": flag.version, "state": state, "reason": reason}
    if state == FlagState.GLOBAL:
        bars = total - listed if not flag.enabled_globally else 0
        blast = (
            f"Turns {flag.key} on for every bar: {_bars(total)} ({_bars(bars)} more than today, whatever their "
            "allow-list)."
        )
        undo = f"Undo: flip {flag.key} back to “on for allow-listed bars only” ({_bars(listed)})."
        title, button = f"Turn {flag.key} on for every bar", f"Yes, turn it on for {_bars(total)}"
    elif state == FlagState.ALLOW_LIST:
        bars = total - listed if flag.enabled_globally else 0
        blast = (
            f"Turns {flag.key} off for every bar not on its allow-list: {_bars(bars)} lose it; the {_bars(listed)} "
            "on the allow-list keep it."
        )
        undo = f"Undo: flip {flag.key} back to “on for every bar”."
        title, button = f"Limit {flag.key} to its allow-list", f"Yes, turn it off for {_bars(bars)}"
    else:
        bars = total if flag.enabled_globally else listed
        blast = f"Turns {flag.key} off for every bar: {_bars(bars)} lose it. The allow-list is kept."
        undo = "Undo: release it with “Release kill switch” on the rollout page."
        title, button = f"Turn {flag.key} off", f"Yes, turn it off for {_bars(bars)}"
    return Confirmation("flip", title, blast, undo, button, bars, fields, danger=state != FlagState.GLOBAL).sign(user)


def kill_switch(*, user) -> Confirmation:
    """Bound to the user only: a kill switch pulled from a page shown a while ago still does the right thing (and
    a switch pulled meanwhile by someone else turns the POST into "already engaged")."""
    bars = bars_with_a_flag_on()
    return Confirmation(
        "kill",
        "Engage the kill switch (runbook Option A)",
        f"Turns simplified mode off for {_bars(bars)}: both flags go off for every bar at once (the Mode Switching "
        "screens disappear, new sales are created without server_id) and the rollout pauses. Operating modes, "
        "sales, server_ids and allow-lists are kept.",
        f"Undo: “Release kill switch” (one action, with a reason) turns both flags back on for their "
        f"{_bars(allow_listed_bars())} on the allow-lists.",
        f"Engage the kill switch for {_bars(bars)}",
        bars,
        danger=True,
    ).sign(user)


def release_fields() -> dict:
    return {"kill_switch": kill_switch_identity(), "bars": allow_listed_bars()}


def release(*, user) -> Confirmation:
    fields = release_fields()
    bars = int(fields["bars"])
    return Confirmation(
        "release",
        "Release the kill switch",
        f"Turns both flags back on for the {_bars(bars)} on their allow-lists (never on for every bar). The rollout "
        "stays paused: resume it when you are ready.",
        "Undo: engage the kill switch again.",
        f"Release: flags back on for {_bars(bars)}",
        bars,
        fields,
    ).sign(user)
