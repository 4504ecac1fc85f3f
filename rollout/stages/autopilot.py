"""The autopilot (DESIGN.md section 4, issue 13): an opt-in beat task that takes the rollout forward by itself.

A product owner holding ``flip_flag`` on both flags turns it on; from then on each tick (Celery beat, every
``ROLLOUT_AUTOPILOT_INTERVAL_SECONDS``):

1. holds while the rollout is paused or the kill switch is engaged (it never resumes anything by itself);
2. pauses the rollout when a safeguard trips: a critical alert that counts toward automatic action
   (monitoring's consecutive failing runs) or harm in the cohort comparison;
3. otherwise applies the next step — the next batch of the stage, or the first batch of the next stage — when
   every gate passes (the same gates as a person's advance, plus ``ROLLOUT_AUTOPILOT_BATCH_SOAK_MINUTES``
   between two batches of one stage), and turns itself off once 4c is complete.

It never skips a stage and never goes past 4c (the target is always the current stage or the next one), and
never runs twice at once (a transaction-level advisory lock, then the state row's lock). Every automatic step is
a timeline event by the actor "autopilot" carrying the gates' evidence, and is notified like an alert
(:class:`rollout.models.RolloutNotification`, mail and webhook through monitoring.notifications). It acts on
behalf of the owner who turned it on: when they lose the permission, it turns itself off.
"""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from adminpanel import db_sessions, outbox
from monitoring import notifications
from monitoring.health import selectors as monitoring_selectors
from rollout import errors, permissions
from rollout.events import services as event_services
from rollout.events.selectors import event_summary
from rollout.models import EventKind, FeatureFlag, RolloutEvent, RolloutNotification, RolloutState, Stage
from rollout.stages import cohort_compare, cohort_verdicts, selectors
from rollout.stages import services as stage_services
from rollout.stages.gates import BATCH_SOAK, COHORT, SOAKED, GateResult, batch_soak_gate, evaluate_gates

logger = logging.getLogger(__name__)

# pg_try_advisory_xact_lock key: "autopilo" in ASCII, distinct from the health run's lock.
TICK_LOCK_KEY = int.from_bytes(b"autopilo", "big") & 0x7FFFFFFFFFFFFFFF
NOTE_MAX = 1000

# What a tick did.
BUSY, OFF, HOLDING, WAITING, ADVANCED, PAUSED, FINISHED, STOPPED = (
    "busy", "off", "holding", "waiting", "advanced", "paused", "finished", "stopped",
)  # fmt: skip


@dataclass(frozen=True)
class Tick:
    action: str
    message: str
    event: RolloutEvent | None = None


class AutopilotError(errors.RolloutError):
    pass


# --- Turning it on and off (people) ----------------------------------------------------------------------------


def enable_autopilot(*, actor, batch_size: int | None, reason: str) -> RolloutState:
    """Let the autopilot advance the rollout on the actor's behalf, in batches of ``batch_size`` bars (None: a
    whole stage per step). Needs a product owner holding flip_flag on both flags; audited and notified."""
    reason = (reason or "").strip()
    if not reason:
        raise errors.InvalidRequest("A reason is required.")
    if batch_size is not None and batch_size < 1:
        raise errors.InvalidRequest("The batch size must be a positive number of bars.")
    with transaction.atomic():
        if not permissions.can_operate_stages(actor):
            raise errors.NotAllowed("The autopilot needs a product owner holding flip_flag on both flags.")
        state = stage_services.locked_state()
        if state.autopilot_enabled:
            raise AutopilotError(f"The autopilot is already on (turned on by {state.autopilot_owner}).")
        if state.stage == Stage.ALL and not selectors.remaining_in_stage(state.stage):
            raise errors.RolloutComplete("Stage 4c is complete: there is nothing left for the autopilot to do.")
        now = timezone.now()
        stage_services.bump_state_fields(
            state, now=now, autopilot_enabled=True, autopilot_batch_size=batch_size, autopilot_owner=actor,
            autopilot_since=now, autopilot_note="Turned on; the first check runs at the next tick.",
        )  # fmt: skip
        event = event_services.record_rollout_event(
            kind=EventKind.AUTOPILOT_ON, actor=actor, target=state, stage_before=state.stage,
            stage_after=state.stage, before={"autopilot": False},
            after={"autopilot": True, "batch_size": batch_size, "owner": actor.username}, reason=reason,
        )  # fmt: skip
        _queue_notification(event)
    return state


def take_manual_control(*, actor, reason: str = "") -> RolloutState:
    """Turn the autopilot off (one click): nothing else changes, the rollout stays where it is."""
    with transaction.atomic():
        if not permissions.can_operate_stages(actor):
            raise errors.NotAllowed("Taking manual control needs a product owner holding flip_flag on both flags.")
        state = stage_services.locked_state()
        if not state.autopilot_enabled:
            return state
        _switch_off(state, actor=actor, reason=(reason or "").strip() or "Manual control taken.")
    _deliver_after_commit()
    return state


def _switch_off(state: RolloutState, *, actor, reason: str, now: datetime | None = None) -> RolloutEvent:
    now = now or timezone.now()
    owner = state.autopilot_owner
    stage_services.bump_state_fields(state, now=now, autopilot_enabled=False, autopilot_note=reason[:NOTE_MAX])
    event = event_services.record_rollout_event(
        kind=EventKind.AUTOPILOT_OFF, actor=actor, target=state, stage_before=state.stage,
        stage_after=state.stage, before={"autopilot": True, "owner": owner.username if owner else None},
        after={"autopilot": False}, reason=reason, created_at=now,
    )  # fmt: skip
    _queue_notification(event)
    return event


# --- The tick (beat) -------------------------------------------------------------------------------------------


def _try_tick_lock() -> bool:
    return db_sessions.try_xact_lock(TICK_LOCK_KEY)


def tripped_safeguards() -> list:
    """Unresolved critical alerts that count toward automatic action (their consecutive failing runs reached)."""
    return monitoring_selectors.tripped_safeguards()


def tick(*, now: datetime | None = None) -> Tick:
    """One autopilot decision; ``now`` is passed in so that tests drive the clock. Safe to call at any time and
    from any number of processes: one tick runs, the others return ``busy`` at once."""
    now = now or timezone.now()
    with transaction.atomic():
        if not _try_tick_lock():
            return Tick(BUSY, "Another autopilot tick is running.")
        peek = RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)[0]
        if not peek.autopilot_enabled:
            return Tick(OFF, "The autopilot is off.")
        # Read the day of sales before locking the state row, so a person's pause never waits for it; if the
        # rollout moved meanwhile, read again under the lock.
        comparison = cohort_compare.compare_cohorts(now=now, state=peek)
        state = stage_services.locked_state()
        if not state.autopilot_enabled:
            return Tick(OFF, "The autopilot is off.")
        if state.version != peek.version:
            comparison = cohort_compare.compare_cohorts(now=now, state=state)
        result = _decide(state, now=now, comparison=comparison)
        RolloutState.objects.filter(pk=state.pk).update(
            autopilot_last_tick_at=now, autopilot_note=result.message[:NOTE_MAX]
        )
    _deliver_after_commit()
    return result


def _decide(state: RolloutState, *, now: datetime, comparison) -> Tick:
    owner = state.autopilot_owner
    if owner is None or not owner.is_active or not permissions.can_operate_stages(owner):
        why = "The autopilot turned itself off: the product owner who turned it on may no longer advance."
        return Tick(STOPPED, why, _switch_off(state, actor=event_services.AUTOPILOT, reason=why, now=now))
    if FeatureFlag.objects.filter(kill_switch_engaged=True).exists():
        return Tick(HOLDING, "Holding: the kill switch is engaged. The autopilot never releases it.")
    if state.paused:
        return Tick(HOLDING, "Holding: the rollout is paused. The autopilot never resumes it; a person does.")
    tripped = tripped_safeguards()
    if tripped:
        checks = ", ".join(f"{alert.check_name} ({alert.streak_text})" for alert in tripped)
        evidence = {"alerts": [{"id": a.pk, "check": a.check_name, "failing_runs": a.streak_text} for a in tripped]}
        return _pause(state, now=now, why=f"Safeguard tripped: critical alert on {checks}.", evidence=evidence)
    if comparison.verdict == cohort_verdicts.HARM:
        return _pause(
            state, now=now, why=f"Safeguard tripped: {comparison.summary}.", evidence=comparison.as_evidence()
        )
    try:
        target = stage_services.advance_target(state)
    except errors.RolloutComplete:
        why = "Stage 4c is complete: the autopilot's work is done and it turned itself off."
        return Tick(FINISHED, why, _switch_off(state, actor=event_services.AUTOPILOT, reason=why, now=now))
    entering = target != state.stage
    gates = evaluate_gates(state=state, now=now, entering_next_stage=entering, comparison=comparison)
    if not entering:
        gates.append(batch_soak_gate(state=state, now=now))
    closed = [gate for gate in gates if not gate.passed]
    if closed:
        waiting = " ".join(f"{gate.label}: {gate.why}" for gate in closed)
        return Tick(WAITING, f"Waiting for {', '.join(gate.label.lower() for gate in closed)}. {waiting}")
    result = stage_services.apply_advance(
        state=state, target=target, actor=event_services.AUTOPILOT, batch_size=state.autopilot_batch_size, gates=gates,
        now=now, reason="Every gate passed.",
    )  # fmt: skip
    _queue_notification(result.event)
    return Tick(ADVANCED, f"Advanced by itself. {result.message}", result.event)


def _pause(state: RolloutState, *, now: datetime, why: str, evidence: dict) -> Tick:
    stage_services.bump_state_fields(state, now=now, paused=True)
    event = event_services.record_rollout_event(
        kind=EventKind.STAGE_PAUSE, actor=event_services.AUTOPILOT, target=state, stage_before=state.stage,
        stage_after=state.stage, before={"paused": False}, after={"paused": True, "evidence": evidence},
        reason=why, created_at=now,
    )  # fmt: skip
    _queue_notification(event)
    return Tick(PAUSED, f"Paused the rollout. {why} It stays paused until a person resumes it.", event)


# --- Notifications ---------------------------------------------------------------------------------------------


def _queue_notification(event: RolloutEvent | None) -> None:
    if event is not None:
        RolloutNotification.objects.create(event=event)


def notification_payload(event: RolloutEvent) -> tuple[str, dict]:
    """Subject and body of one automatic step's notification."""
    summary = event_summary(event)
    data = {
        "event": event.kind,
        "what": event.get_kind_display(),
        "actor": event.actor_name,
        "stage_before": event.stage_before,
        "stage_after": event.stage_after,
        "summary": summary,
        "reason": event.reason,
        "at": event.created_at.isoformat(),
        "rollout_event_id": event.pk,
    }
    gates = (event.after or {}).get("gates")
    if gates:
        data["gates"] = [{"gate": g["name"], "passed": g["passed"], "why": g["why"]} for g in gates]
    return f"[BarTender rollout] {event.actor_name}: {event.get_kind_display().lower()} — {summary}", data


def deliver_notifications(*, limit: int = 50) -> int:
    """Send the pending rollout notifications; a failing channel leaves them pending for the next tick until
    ALERT_NOTIFY_MAX_ATTEMPTS. Returns how many were delivered."""
    pending = (
        RolloutNotification.objects.filter(notified_at__isnull=True, attempts__lt=settings.ALERT_NOTIFY_MAX_ATTEMPTS)
        .select_related("event")
        .order_by("id")[:limit]
    )

    def send(notification, skip):
        subject, data = notification_payload(notification.event)
        return notifications.deliver(subject=subject, data=data, skip=skip)

    return outbox.deliver(pending, send=send, what="rollout notification")


def _deliver_after_commit() -> None:
    """Deliver outside the step's transaction (a slow mail server never holds the rollout's lock)."""
    if connection.in_atomic_block:
        transaction.on_commit(_deliver_quietly)
    else:
        _deliver_quietly()


def _deliver_quietly() -> None:
    try:
        deliver_notifications()
    except Exception:  # a notification problem never undoes or repeats a step; it stays pending
        logger.exception("rollout notifications could not be delivered")


# --- What the page shows ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outlook:
    """The autopilot's plan in words, for the rollout page."""

    enabled: bool
    text: str
    next_step_at: datetime | None = None
    next_check_at: datetime | None = None


def outlook(*, state: RolloutState, gates: list[GateResult], entering_next_stage: bool, now: datetime) -> Outlook:
    """When the next automatic step will happen, if nothing changes: the next tick once every gate passes, or the
    end of the soak when time is all that is missing; otherwise what it waits for."""
    if not state.autopilot_enabled:
        return Outlook(False, "The autopilot is off: every step is taken by a person.")
    interval = timedelta(seconds=settings.ROLLOUT_AUTOPILOT_INTERVAL_SECONDS)
    next_check = max((state.autopilot_last_tick_at or now) + interval, now)
    if state.paused or FeatureFlag.objects.filter(kill_switch_engaged=True).exists():
        return Outlook(True, "The autopilot holds while the rollout is paused or the kill switch is engaged; "
                       "it never resumes by itself.", None, next_check)  # fmt: skip
    gates = list(gates)
    if not entering_next_stage and state.stage != Stage.OFF:
        gates.append(batch_soak_gate(state=state, now=now))
    closed = [gate for gate in gates if not gate.passed]
    if not closed:
        return Outlook(True, "Every gate passes: the next automatic step runs at the next check.", next_check,
                       next_check)  # fmt: skip
    timed = [gate for gate in closed if gate.name in {SOAKED, BATCH_SOAK}]
    # The comparison's "not enough data yet" also clears with time alone (sales keep coming), just not at a
    # time anyone can promise.
    waiting_for_data = [gate for gate in closed if gate.name == COHORT and _not_enough_data(gate)]
    if timed and len(timed) + len(waiting_for_data) == len(closed) and state.soak_started_at:
        if entering_next_stage:
            wait = timedelta(hours=settings.ROLLOUT_SOAK_HOURS.get(state.stage, 24))
        else:
            wait = timedelta(minutes=settings.ROLLOUT_AUTOPILOT_BATCH_SOAK_MINUTES)
        at = max(state.soak_started_at + wait, next_check)
        text = "Only the soak time is missing: the step runs at the first check after it ends"
        if waiting_for_data:
            text += " and once the cohort comparison has enough data"
        return Outlook(True, text + ", if every gate still passes.", at, next_check)
    labels = ", ".join(gate.label.lower() for gate in closed)
    return Outlook(True, f"Waiting for: {labels}. The autopilot checks again at the next tick.", None, next_check)


def _not_enough_data(gate: GateResult) -> bool:
    return gate.evidence.get("verdict") == cohort_verdicts.NOT_ENOUGH
