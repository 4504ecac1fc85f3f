"""Stage write paths: advancing (gates judged, bars switched and allow-listed), pausing, resuming, rolling back.

Every function locks the state row, checks the actor's permission again inside the transaction and writes one
timeline event per change.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from rollout import permissions
from rollout.errors import (
    KILL_SWITCH_HOLDS,
    GateClosed,
    InvalidRequest,
    KillSwitchEngaged,
    NotAllowed,
    RolloutComplete,
    RolloutPaused,
)
from rollout.events.services import _record, _require_reason
from rollout.flags.services import _bump_flags
from rollout.models import (
    EventKind,
    FeatureFlag,
    RolloutEvent,
    RolloutState,
    RolloutStep,
    Stage,
    next_stage,
    previous_stage,
)
from rollout.stages.cohorts import bucket_sql, cohort_sql
from rollout.stages.gates import GateResult, evaluate_gates
from rollout.stages.selectors import remaining_in_stage


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
