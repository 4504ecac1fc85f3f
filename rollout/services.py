"""Rollout write paths: flags, allow-lists, stages, gates, rollbacks and deployment records.

Every function here locks what it changes, checks the actor's permission again inside the transaction (views
check first for a quick 403; this is the check that counts), and writes one timeline event per change.
"""

import logging
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from adminpanel.audit import record_event
from monitoring.enums import IncidentSource
from monitoring.incidents import selectors as incident_selectors
from monitoring.incidents import services as incidents
from rollout import permissions, records
from rollout.cohorts import bucket_sql, cohort_sql
from rollout.gates import GateResult, evaluate_gates
from rollout.models import (
    DeploymentRecord,
    EventKind,
    FeatureFlag,
    FlagState,
    RecordStatus,
    RolloutEvent,
    RolloutState,
    RolloutStep,
    Stage,
    next_stage,
    previous_stage,
)
from rollout.selectors import incident_trigger_key, kill_switch_identity, record_snapshot, remaining_in_stage

logger = logging.getLogger(__name__)


# --- Domain errors (turned into messages and statuses by the views) -------------------------------
class RolloutError(Exception):
    """Base of every refusal; the message is meant for the person who asked."""


class NotAllowed(RolloutError):
    pass


class InvalidRequest(RolloutError):
    pass


class GateClosed(RolloutError):
    def __init__(self, gates: list[GateResult]):
        self.gates = gates
        super().__init__("Gate closed: " + " ".join(f"{gate.label}: {gate.why}" for gate in gates))


class RolloutPaused(RolloutError):
    pass


class KillSwitchEngaged(RolloutError):
    pass


KILL_SWITCH_HOLDS = (
    "The kill switch is engaged: the rollout holds until someone releases it (Release kill switch, with a reason)."
)


class RolloutComplete(RolloutError):
    pass


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


def locked_state() -> RolloutState:
    """The rollout state row, locked until the end of the caller's transaction."""
    RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)
    return RolloutState.objects.select_for_update().get(pk=RolloutState.SINGLETON_ID)


def _bump_state(state: RolloutState, now) -> None:
    state.version = F("version") + 1
    state.updated_at = now
    state.save()
    state.refresh_from_db()


def bump_state_fields(state: RolloutState, *, now=None, **values) -> None:
    """Set fields of the locked state row and bump its version (what a page's form was built on changed)."""
    for name, value in values.items():
        setattr(state, name, value)
    _bump_state(state, now or timezone.now())


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


# --- Stages ---------------------------------------------------------------------------------------
@dataclass
class AdvanceResult:
    applied: bool
    message: str
    state: RolloutState
    step: RolloutStep | None = None
    gates: list[GateResult] = field(default_factory=list)
    event: RolloutEvent | None = None


# Bars are addressed as `id = ANY(ARRAY(…))`: a primary-key probe per bar whatever the (often stale) planner
# statistics of the rollout tables say; a join there once became a 20-million-row nested loop.
APPLY_STEP_SQL = """
WITH picked AS (
  SELECT bars.id FROM bars
  WHERE {cohort} AND bars.settings->>'operatingMode' IS NULL
  ORDER BY {bucket}, bars.id
  {limit}
  FOR UPDATE OF bars
), switched AS (
  UPDATE bars
  SET settings = (CASE WHEN jsonb_typeof(bars.settings) = 'object' THEN bars.settings ELSE '{{}}'::jsonb END)
                 || jsonb_build_object('operatingMode', 'simplified')
  WHERE bars.id = ANY(ARRAY(SELECT id FROM picked)) AND bars.settings->>'operatingMode' IS NULL
  RETURNING bars.id
), granted AS (
  INSERT INTO feature_flag_bars (featureflag_id, bar_id)
  SELECT flags.id, switched.id FROM switched CROSS JOIN feature_flags flags
  ON CONFLICT (featureflag_id, bar_id) DO NOTHING
  RETURNING featureflag_id, bar_id
), recorded AS (
  INSERT INTO rollout_bar_changes (step_id, bar_id, flags_added)
  SELECT %(step)s, switched.id, coalesce(per_bar.flags, '[]'::jsonb)
  FROM switched
  LEFT JOIN (SELECT bar_id, jsonb_agg(featureflag_id ORDER BY featureflag_id) AS flags
             FROM granted GROUP BY bar_id) per_bar ON per_bar.bar_id = switched.id
  RETURNING 1
)
SELECT count(*) FROM recorded
"""


def _apply_step(*, step: RolloutStep, batch_size: int | None) -> int:
    """Switch the stage's NULL-mode bars (the next `batch_size` of them, by bucket) and allow-list them."""
    sql = APPLY_STEP_SQL.format(
        cohort=cohort_sql(step.stage),
        bucket=bucket_sql(),
        limit="LIMIT %(limit)s" if batch_size else "",
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, {"step": step.pk, "limit": batch_size})
        return cursor.fetchone()[0]


def advance_stage(
    *, actor, expected_version: int, batch_size: int | None = None, override_reason: str = ""
) -> AdvanceResult:
    """Apply the next step: the next batch of the current stage, or the next stage once this one is complete.

    Idempotent and safe under concurrency: the state row is locked and `expected_version` must match the version
    the caller saw, so any number of identical requests apply one step.
    """
    if batch_size is not None and batch_size < 1:
        raise InvalidRequest("The batch size must be a positive number of bars.")
    override_reason = (override_reason or "").strip()
    with transaction.atomic():
        if not permissions.can_operate_stages(actor):
            raise NotAllowed("Advancing needs a product owner holding flip_flag on both flags.")
        state = locked_state()
        if state.version != expected_version:
            return AdvanceResult(False, "The rollout changed since this page was loaded; nothing was done.", state)
        target = advance_target(state)
        now = timezone.now()
        gates = evaluate_gates(state=state, now=now, entering_next_stage=target != state.stage)
        closed = [gate for gate in gates if not gate.passed]
        if closed and not override_reason:
            raise GateClosed(closed)
        if closed:
            if not permissions.can_override_gates(actor):
                raise NotAllowed("Overriding a gate needs the permission rollout.override_gate.")
            _record(
                kind=EventKind.GATE_OVERRIDE, actor=actor, target=state, stage_before=state.stage,
                stage_after=target, before={"gates": [gate.as_dict() for gate in closed]},
                after={"overridden": [gate.name for gate in closed]}, reason=override_reason, is_override=True,
            )  # fmt: skip
        if batch_size is None and target == Stage.HALF:
            batch_size = settings.ROLLOUT_4B_BATCH_SIZE or None  # the runbook's "LIMIT 10 -- Still gradual"
        return apply_advance(
            state=state, target=target, actor=actor, batch_size=batch_size, gates=gates, now=now,
            reason=override_reason, is_override=bool(closed),
        )  # fmt: skip


def advance_target(state: RolloutState) -> str:
    """Where the next step of a locked, advanceable rollout goes: the current stage while bars of its cohort are
    left, else the next stage, never further (so no stage is ever skipped); refusals as domain errors."""
    if FeatureFlag.objects.filter(kill_switch_engaged=True).exists():
        raise KillSwitchEngaged(KILL_SWITCH_HOLDS)
    if state.paused:
        raise RolloutPaused("The rollout is paused; resume it first.")
    target = state.stage if remaining_in_stage(state.stage) else next_stage(state.stage)
    if target is None:
        raise RolloutComplete("Stage 4c is complete: every bar is in the rollout.")
    return target


def apply_advance(
    *, state: RolloutState, target: str, actor, batch_size: int | None, gates: list[GateResult], now,
    reason: str = "", is_override: bool = False,
) -> AdvanceResult:  # fmt: skip
    """Apply one step to a state row the caller has locked (inside its transaction) after judging the gates:
    switch the batch, allow-list it, restart the soak, and record the step with the gates' evidence."""
    stage_before = state.stage
    step = RolloutStep.objects.create(
        stage=target, batch_size=batch_size, actor=actor if getattr(actor, "pk", None) else None, created_at=now
    )
    changed = _apply_step(step=step, batch_size=batch_size)
    step.bars_changed = changed
    step.save(update_fields=["bars_changed"])
    if changed:
        _bump_flags(now)
    state.stage = target
    state.soak_started_at = now
    _bump_state(state, now)
    left = remaining_in_stage(target)
    event = _record(
        kind=EventKind.STAGE_ADVANCE, actor=actor, target=state, step=step, stage_before=stage_before,
        stage_after=target, before={"stage": stage_before}, created_at=now,
        after={"stage": target, "bars_changed": changed, "batch_size": batch_size, "remaining": left,
               "gates": [gate.as_dict() for gate in gates]},
        reason=reason, is_override=is_override,
    )  # fmt: skip
    message = f"Stage {target}: {changed} bars switched to simplified mode"
    message += f", {left} still to go." if left else "; the stage is complete."
    return AdvanceResult(True, message, state, step, gates, event)


def _set_paused(*, actor, paused: bool, reason: str) -> RolloutState:
    reason = _require_reason(reason)
    with transaction.atomic():
        if not permissions.can_operate_stages(actor):
            raise NotAllowed("Pausing and resuming need a product owner holding flip_flag on both flags.")
        state = locked_state()
        if FeatureFlag.objects.filter(kill_switch_engaged=True).exists():
            raise KillSwitchEngaged(KILL_SWITCH_HOLDS)
        if state.paused == paused:
            return state
        bump_state_fields(state, paused=paused)
        _record(
            kind=EventKind.STAGE_PAUSE if paused else EventKind.STAGE_RESUME, actor=actor, target=state,
            stage_before=state.stage, stage_after=state.stage, before={"paused": not paused},
            after={"paused": paused}, reason=reason,
        )  # fmt: skip
        return state


def pause_rollout(*, actor, reason: str) -> RolloutState:
    """Hold the rollout at its stage: no advance until resumed."""
    return _set_paused(actor=actor, paused=True, reason=reason)


def resume_rollout(*, actor, reason: str) -> RolloutState:
    """Let the rollout advance again."""
    return _set_paused(actor=actor, paused=False, reason=reason)


ROLLBACK_STEP_SQL = """
WITH live AS (
  SELECT c.id, c.bar_id, c.flags_added
  FROM rollout_bar_changes c JOIN rollout_steps s ON s.id = c.step_id
  WHERE s.stage = %(stage)s AND s.rolled_back_at IS NULL AND c.rolled_back_at IS NULL
), restored AS (
  UPDATE bars SET settings = bars.settings - 'operatingMode'
  WHERE bars.id = ANY(ARRAY(SELECT bar_id FROM live)) AND bars.settings->>'operatingMode' = 'simplified'
  RETURNING bars.id
), revoked AS (
  DELETE FROM feature_flag_bars fb USING live
  WHERE fb.bar_id = live.bar_id AND live.flags_added @> to_jsonb(fb.featureflag_id)
  RETURNING 1
), marked AS (
  UPDATE rollout_bar_changes c SET rolled_back_at = %(now)s FROM live WHERE c.id = live.id RETURNING 1
)
SELECT (SELECT count(*) FROM restored), (SELECT count(*) FROM revoked), (SELECT count(*) FROM marked)
"""


def rollback_stage(*, actor, expected_version: int, reason: str) -> AdvanceResult:
    """Return the current stage's bars to operatingMode NULL (only those this rollout switched) and step back."""
    reason = _require_reason(reason)
    with transaction.atomic():
        if not permissions.can_trigger_rollback(actor):
            raise NotAllowed("Stage rollback needs the permission rollout.trigger_rollback.")
        state = locked_state()
        if state.version != expected_version:
            return AdvanceResult(False, "The rollout changed since this page was loaded; nothing was done.", state)
        if state.stage == Stage.OFF:
            raise InvalidRequest("The rollout is off: there is no stage to roll back.")
        now = timezone.now()
        stage_before = state.stage
        with connection.cursor() as cursor:
            cursor.execute(ROLLBACK_STEP_SQL, {"stage": stage_before, "now": now})
            restored, revoked, changes = cursor.fetchone()
        RolloutStep.objects.filter(stage=stage_before, rolled_back_at__isnull=True).update(rolled_back_at=now)
        if revoked:
            _bump_flags(now)
        state.stage = previous_stage(stage_before)
        state.soak_started_at = now
        _bump_state(state, now)
        _record(
            kind=EventKind.STAGE_ROLLBACK, actor=actor, target=state, stage_before=stage_before,
            stage_after=state.stage, before={"stage": stage_before},
            after={"stage": state.stage, "bars_restored": restored, "changes_undone": changes,
                   "allow_list_entries_removed": revoked},
            reason=reason,
        )  # fmt: skip
        return AdvanceResult(
            True, f"Stage {stage_before} rolled back: {restored} bars returned to operatingMode NULL.", state
        )


def expected_adoption_pct() -> float:
    """The simplified-mode share the rollout has put in place (bars it switched and has not rolled back), in %;
    the health checks' adoption check warns when the real share falls below it."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT count(DISTINCT c.bar_id) * 100.0 / nullif((SELECT count(*) FROM bars), 0)
            FROM rollout_bar_changes c JOIN rollout_steps s ON s.id = c.step_id
            WHERE c.rolled_back_at IS NULL AND s.rolled_back_at IS NULL
            """
        )
        return float(cursor.fetchone()[0] or 0.0)


# --- Kill switch (runbook rollback Option A) ------------------------------------------------------
def pull_kill_switch(*, actor, reason: str, alert=None, rehearsal: bool = False) -> bool:
    """Both flags off for every bar, allow-lists and data kept, rollout paused; one transaction.

    `rehearsal=True` (Phase 1's rollback rehearsal, DESIGN §4d) opens no incident and pages no one: it is recorded on
    the timeline like any pull, with the rehearsal's reason.

    `actor=None` with an `alert` is the automatic rollback; a :func:`named_actor` is an Alertmanager trigger an
    admin allowed to pull it (rollout/alert_hooks.py: its secret is its permission). Returns False when the switch
    was already engaged.
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


def handle_critical_alert(*, alert) -> None:
    """The handler monitoring calls for each critical alert whose safeguard tripped
    (``monitoring.services.announce_critical``; registered in ``RolloutConfig.ready``)."""
    on_critical_alert_opened(alert=alert)


def on_critical_alert_opened(*, alert) -> None:
    """Called by the health-check alerting when a critical alert's safeguard trips (critical for the check's
    consecutive failing runs).

    While a stage above `off` is live and ROLLOUT_AUTO_ROLLBACK is on, the kill switch fires by itself — but only
    for a fault the flags cure (ROLLOUT_AUTO_ROLLBACK_CHECKS, DESIGN §4d); the timeline records the alert that
    caused it. Any other critical check (latency, schema, capacity) opens an incident for the tier that owns it and
    never flips a flag. A failure here is logged, never raised into the alerting.
    """
    if not settings.ROLLOUT_AUTO_ROLLBACK:
        return
    try:
        with transaction.atomic():
            state = RolloutState.objects.filter(pk=RolloutState.SINGLETON_ID).first()
            if state is None or state.stage == Stage.OFF:
                return
            runs = f" ({alert.streak_text})" if alert.streak_text else ""
            if alert.check_name not in settings.ROLLOUT_AUTO_ROLLBACK_CHECKS:
                _open_incident_without_rollback(alert=alert, state=state, runs=runs)
                return
            reason = (
                f"Critical alert #{alert.pk} on {alert.check_name}{runs} tripped its safeguard while stage "
                f"{state.stage} was live."
            )
            if pull_kill_switch(actor=None, reason=reason, alert=alert):
                logger.warning("Automatic rollback: %s", reason)
    except Exception:
        logger.exception("Automatic rollback failed for alert %s", getattr(alert, "pk", alert))


def _open_incident_without_rollback(*, alert, state: RolloutState, runs: str) -> None:
    """A critical alert the flags do not cure: an incident (once per alert), the flags left as they are."""
    label = incident_selectors.check_label(alert.check_name)
    issue = (
        f"Critical alert on {label}{runs} while stage {state.stage} is live. The flags are not its cure, so no "
        "automatic rollback: the team that owns it investigates (DESIGN 4d)."
    )
    incidents.open_incident_for_event(
        trigger_key=f"alert:{alert.pk}", source=IncidentSource.CRITICAL_ALERT, issue=issue,
        started_at=alert.opened_at, alert=alert,
        fault_kind="database" if alert.check_name in settings.DATABASE_FAULT_CHECKS else "",
    )  # fmt: skip
    logger.warning("Critical alert #%s on %s: incident opened, no automatic rollback", alert.pk, alert.check_name)


# --- Deployment records ---------------------------------------------------------------------------
# What a person writes on a record; the checklist (backup, tests, flags off, build) fills itself from the
# cockpit's facts (rollout.records.fill_from_cockpit) and is never taken from a form or a caller.
RECORD_FIELDS = (
    "date", "deployer", "reviewer", "started_at", "ended_at", "issues_encountered", "status",
)  # fmt: skip
FILLED_FIELDS = ("backup_location", "tests_passing", "flags_off", "code_builds")
TWO_PEOPLE = "The deployer and the reviewer must be two different people."


def _record_values(record: DeploymentRecord) -> dict:
    values = {}
    for name in RECORD_FIELDS + FILLED_FIELDS:
        value = getattr(record, f"{name}_id" if name in ("deployer", "reviewer") else name)
        values[name] = value if isinstance(value, bool | int | None) else str(value)
    return values


def _clean_record(record: DeploymentRecord) -> None:
    if record.deployer_id and record.deployer_id == record.reviewer_id:
        raise ValidationError({"reviewer": TWO_PEOPLE})
    record.full_clean()


def create_record(*, actor, **values) -> DeploymentRecord:
    """A new deployment record (runbook template); the deployer and the reviewer must differ. Its window starts
    with the deployment's first Phase 1 step unless a start is given; its checklist fills itself."""
    with transaction.atomic():
        if not permissions.can_manage_records(actor):
            raise NotAllowed("Only product owners keep deployment records.")
        values = {name: value for name, value in values.items() if name in RECORD_FIELDS}
        if not values.get("started_at"):
            values["started_at"] = records.deployment_start() or timezone.now()
        record = DeploymentRecord(**values)
        records.fill_from_cockpit(record)
        _clean_record(record)
        record.save()
        _record(kind=EventKind.RECORD, actor=actor, target=record, record=record, after=_record_values(record))
        return record


def update_record(*, actor, record_id: int, **values) -> DeploymentRecord:
    """Edit a record that nobody has signed yet (its checklist is read again from the facts)."""
    with transaction.atomic():
        if not permissions.can_manage_records(actor):
            raise NotAllowed("Only product owners keep deployment records.")
        record = DeploymentRecord.objects.select_for_update().get(pk=record_id)
        if record.deployer_signed_at or record.reviewer_signed_at:
            raise InvalidRequest("A signed record cannot be edited.")
        before = _record_values(record)
        for name, value in values.items():
            if name in RECORD_FIELDS:
                setattr(record, name, value)
        if not record.started_at:
            record.started_at = records.deployment_start() or timezone.now()
        records.fill_from_cockpit(record)
        _clean_record(record)
        record.save()
        after = _record_values(record)
        if after != before:
            _record(kind=EventKind.RECORD, actor=actor, target=record, record=record, before=before, after=after)
        return record


def signing_hint(record: DeploymentRecord, user) -> str:
    """Why `user` cannot sign the record now ("" when they can): shown beside the sign button."""
    if record.is_signed:
        return "Both have signed: the record is frozen."
    if user.pk not in (record.deployer_id, record.reviewer_id):
        return f"Only the deployer ({record.deployer}) and the reviewer ({record.reviewer}) sign this record."
    if (user.pk == record.deployer_id and record.deployer_signed_at) or (
        user.pk == record.reviewer_id and record.reviewer_signed_at
    ):
        return "You have signed; the other person signs too."
    if record.status == RecordStatus.IN_PROGRESS:
        return "Set the status (successful or rolled back) first: edit the record."
    return ""


def sign_record(*, actor, record_id: int) -> DeploymentRecord:
    """The deployer or the reviewer signs; with both signatures the timeline and monitoring are frozen."""
    with transaction.atomic():
        record = DeploymentRecord.objects.select_for_update().get(pk=record_id)
        if not record.is_signed:
            records.fill_from_cockpit(record)
        if actor.pk == record.deployer_id:
            role, field_name = "deployer", "deployer_signed_at"
        elif actor.pk == record.reviewer_id:
            role, field_name = "reviewer", "reviewer_signed_at"
        else:
            raise NotAllowed("Only the record's deployer or reviewer may sign it.")
        if record.deployer_id == record.reviewer_id:
            raise InvalidRequest(TWO_PEOPLE)
        if record.status == RecordStatus.IN_PROGRESS:
            raise InvalidRequest("Set the status (successful or rolled back) before signing.")
        now = timezone.now()
        if getattr(record, field_name):
            raise InvalidRequest(f"The {role} has already signed.")
        setattr(record, field_name, now)
        if record.is_signed:
            record.snapshot = record_snapshot(record)
        record.save()
        _record(
            kind=EventKind.RECORD, actor=actor, target=record, record=record,
            after={"signed_as": role, "status": record.status},
        )  # fmt: skip
        return record
