"""The runbook cockpit (DESIGN.md section 4b): every phase's live state on one page, read from the facts.

Phase 1 → Phase 2 → Phase 3 → Phase 4 (4a/4b/4c) → Day 1 → Week 1. Each step says its state (not started, running,
passed, failed, waived with a reason), the evidence with who and when, and the next action for a person allowed
to take it (the others read who may). Nothing here is a box someone ticks where the system can measure the fact:
Phase 1 and Phase 3 steps are runs the panel did (rollout.runbook.runs), Phase 2 reads the migration table, the backfill
run and the validation run, Phase 4 reads the rollout state, Day 1 and Week 1 read monitoring's windows.

It is the home page of product owners and support staff and polls itself, so every read here is bounded: latest
rows by index, never a COUNT over sales (the page stays under 300 ms at 5M sales; bench/cockpit.py).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from adminpanel import confirmations
from monitoring.enums import PhaseKind
from monitoring.health import selectors as monitoring_selectors
from rollout.killswitch.selectors import kill_switch_engaged
from rollout.models import (
    STAGE_ORDER,
    DeploymentRecord,
    RolloutEvent,
    RolloutState,
    RolloutStep,
    RunbookStep,
    Stage,
    next_stage,
)
from rollout.runbook import checklist
from rollout.runbook.cockpit_steps import (
    DONE,
    FAILED,
    NOT_STARTED,
    PASSED,
    PHASE1_ORDER,
    RUNNING,
    STAGE_TITLES,
    STATE_LABELS,
    WAIVED,
    Action,
    People,
    StepView,
    backfill_step,
    duration,
    latest_runs,
    latest_windows,
    migrations_step,
    run_step,
    user_can,
    validation_step,
    window_step,
)
from rollout.stages.cohort_compare import stored_comparison
from rollout.stages.gates import evaluate_gates, latest_full_backfill
from rollout.stages.selectors import remaining_in_stage


@dataclass
class PhaseView:
    key: str
    title: str
    goal: str
    steps: list[StepView]
    # The runbook's time box ("Phase 1 (2 hours)"), in words and as a length; measured against the steps' times.
    box_words: str = ""
    box: timedelta | None = None
    now: datetime | None = None

    @property
    def started_at(self) -> datetime | None:
        return min((step.when for step in self.steps if step.when), default=None)

    @property
    def elapsed(self) -> timedelta | None:
        """From its first step's time to its last (when done) or to now (while it runs)."""
        start = self.started_at
        if start is None or self.state == NOT_STARTED:
            return None
        end = max(step.when for step in self.steps if step.when) if self.state in DONE else (self.now or start)
        return max(end - start, timedelta(0))

    @property
    def overran(self) -> bool:
        return bool(self.box and self.elapsed and self.elapsed > self.box)

    @property
    def timebox_text(self) -> str:
        """ "Time box 2 hours (runbook): took 1 h 12 min" — an overrun is said, never blocked."""
        if not self.box_words:
            return ""
        text = f"Time box {self.box_words} (runbook)"
        if self.elapsed is None:
            return text + "."
        verb = "took" if self.state in DONE else "running for"
        text += f": {verb} {duration(self.elapsed)}"
        return text + (f", over by {duration(self.elapsed - self.box)}." if self.overran else ".")

    @property
    def state(self) -> str:
        states = [step.state for step in self.steps]
        if all(state in DONE for state in states):
            return WAIVED if all(state == WAIVED for state in states) else PASSED
        if FAILED in states:
            return FAILED
        if any(state != NOT_STARTED for state in states):
            return RUNNING
        return NOT_STARTED

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]


TIME_BOXES = {
    "phase-1": ("2 hours", timedelta(hours=2)),
    "phase-2": ("30 minutes", timedelta(minutes=30)),
    "phase-3": ("15 minutes", timedelta(minutes=15)),
    "phase-4": ("1-3 days", timedelta(days=3)),
}


@dataclass
class Cockpit:
    phases: list[PhaseView]
    next_step: StepView | None
    record: DeploymentRecord | None
    can_manage_records: bool
    latest_run: object | None  # monitoring's latest finished health run
    critical_alerts: list
    stage: RolloutState
    poll_seconds: int
    now: datetime
    can_decide: bool = False  # may record a decision (rollout.runbook.attestations)


# --- Phase 4 ---------------------------------------------------------------------------------------------------
def _stage_steps(state: RolloutState, *, user, caps: dict, people: People, now) -> list[StepView]:
    live = {}
    for step in RolloutStep.objects.filter(rolled_back_at__isnull=True).select_related("actor").order_by("created_at"):
        entry = live.setdefault(step.stage, {"first": step, "bars": 0})
        entry["bars"] += step.bars_changed
    rolled_back = {
        event.stage_before: event
        for event in RolloutEvent.objects.filter(kind="stage_rollback").order_by("created_at", "id")[:50]
    }
    killed = kill_switch_engaged()
    current = STAGE_ORDER.index(Stage(state.stage))
    remaining = remaining_in_stage(state.stage)
    target = state.stage if remaining else next_stage(state.stage)
    entering = target is not None and target != state.stage
    views = []
    for index, stage in enumerate(STAGE_ORDER[1:], start=1):
        view = StepView(
            f"stage_{stage}", stage, STAGE_TITLES[stage],
            {Stage.INTERNAL: "The internal test bars switch to simplified mode and join both allow-lists.",
             Stage.HALF: "Half the bars (a stable hash of their id) switch, in batches if you like.",
             Stage.ALL: "Every remaining bar whose mode is not set switches."}[stage],
        )  # fmt: skip
        view.evidence_url, view.evidence_label = reverse("rollout:page"), "Rollout page"
        view.may_act = caps["stages"]
        view.who_may = people.text(" holding rollout.flip_flag on both flags")
        entry = live.get(stage)
        switched = entry["bars"] if entry else 0
        if entry:
            view.who = entry["first"].actor.username if entry["first"].actor else "autopilot"
            view.when = entry["first"].created_at
        if index < current:
            view.state, view.summary = PASSED, f"Done: {switched} bars switched by this rollout."
        elif index == current and stage == Stage.ALL and not remaining and not killed:
            view.state, view.summary = PASSED, f"Every bar is in: {switched} switched by this rollout."
        elif index == current:
            view.state = FAILED if killed else RUNNING
            soak = settings.ROLLOUT_SOAK_HOURS.get(stage, 24)
            soaked = (now - state.soak_started_at).total_seconds() / 3600 if state.soak_started_at else 0
            view.summary = (
                f"{switched} bars switched"
                + (f", {remaining} still to go" if remaining else f"; soaked {soaked:.1f} h of {soak:g} h")
                + ("; the kill switch is engaged (flags off for every bar)" if killed else "")
                + ("; paused" if state.paused else "")
                + "."
            )
        elif stage in rolled_back and not entry:
            event = rolled_back[stage]
            view.state = FAILED
            view.who, view.when = event.actor_name, event.created_at
            view.summary = f"Rolled back: {event.reason}"
        else:
            view.summary = "Not started."
        if stage == Stage.INTERNAL and index <= current:
            view.checklist, view.may_attest = checklist.build(now=now), caps["stages"]
        if stage == target:
            # The landing page never reads a day of sales: stored cohort figures (the beat's, said with their
            # time); pressing the button judges the gates again on fresh figures.
            comparison = stored_comparison(now=now, state=state)
            view.gates = evaluate_gates(state=state, now=now, entering_next_stage=entering, comparison=comparison)
            bars = remaining_in_stage(stage) if entering else remaining
            closed = [gate for gate in view.gates if not gate.passed]
            view.action = Action(
                "stage",
                f"Start stage {stage}" if entering else f"Next batch of stage {stage}",
                reverse("rollout:cockpit_advance"),
                blast=f"Switches {bars:,} bar{'s' if bars != 1 else ''} to simplified mode and allow-lists "
                f"{'it' if bars == 1 else 'them'} on both flags. Undo: roll the stage back on the rollout page.",
                confirm=f"Yes: switch these {bars:,} bars now.",
                extra={"version": state.version, "closed": len(closed), "can_override": caps["override"],
                       "bars": bars, "paused": state.paused, "killed": killed,
                       # bound to this user and this version of the rollout, used once (adminpanel.confirmations)
                       "token": confirmations.sign(user=user, action="advance", fields={
                           "version": state.version, "batch_size": None, "override_reason": ""})},
            )  # fmt: skip
        views.append(view)
    return views


def _latest_record() -> DeploymentRecord | None:
    # The latest by its index first, then its two people by primary key (no join planned over every user).
    pk = DeploymentRecord.objects.order_by("-created_at", "-id").values_list("pk", flat=True).first()
    return DeploymentRecord.objects.select_related("deployer", "reviewer").filter(pk=pk).first() if pk else None


# --- The whole page ------------------------------------------------------------------------------------------------
def build(*, user, now: datetime | None = None) -> Cockpit:
    """Every phase and step as it stands now, with what `user` may do next."""
    now = now or timezone.now()
    people = People()
    caps = user_can(user)
    runs = latest_runs()
    phase1 = [
        run_step(
            step, runs.get(step), people=people, now=now,
            may=caps["rehearse"] if step == RunbookStep.ROLLBACK_REHEARSAL else caps["operate"],
            needs=" holding rollout.trigger_rollback and flip_flag on both flags"
            if step == RunbookStep.ROLLBACK_REHEARSAL else "",
        )
        for step in PHASE1_ORDER
    ]  # fmt: skip
    finished = latest_full_backfill()
    backfill = backfill_step(may=caps["operate"], people=people, run=finished)
    finished_at = finished.finished_at if finished and finished.status == finished.Status.FINISHED else None
    phase2 = [
        migrations_step(),
        backfill,
        validation_step(may=caps["operate"], people=people, backfill_finished_at=finished_at),
    ]
    windows = latest_windows()
    deploy = run_step(RunbookStep.DEPLOY_CHECK, runs.get(RunbookStep.DEPLOY_CHECK), may=caps["operate"],
                       people=people, now=now)  # fmt: skip
    phase3 = [
        deploy,
        window_step(
            "phase3_window", "3.3", "Phase 3 monitoring window",
            "15 minutes of health runs after the deployment: error rate, RLS violations, resolution errors, "
            "connections, latency. Its verdict opens stage 4a.",
            windows.get(PhaseKind.PHASE3), may=caps["operate"], people=people,
            startable=deploy.state == PASSED,
        ),
    ]  # fmt: skip
    state, _ = RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)
    phase4 = _stage_steps(state, user=user, caps=caps, people=people, now=now)
    complete = phase4[-1].state == PASSED
    day1 = window_step(
        "day1", "Day 1", "Day 1 window",
        "A day after the full rollout: coverage at least 98 %, no orphans, RLS enforced, adoption on track.",
        windows.get(PhaseKind.DAY1), may=caps["operate"], people=people, startable=complete,
    )  # fmt: skip
    week1 = window_step(
        "week1", "Week 1", "Week 1 window",
        "The first week: no critical errors, coverage at least 98 % daily, no RLS incident, RLS latency < 50 ms.",
        windows.get(PhaseKind.WEEK1), may=caps["operate"], people=people, startable=day1.state == PASSED,
    )  # fmt: skip
    phases = [
        PhaseView("phase-1", "Phase 1: Pre-deployment verification", "Ready to migrate: tested, backed up, flags off.",
                  phase1),
        PhaseView("phase-2", "Phase 2: Database migrations", "server_id in place and backfilled, validated.", phase2),
        PhaseView("phase-3", "Phase 3: Code deployment", "The new build serves, and 15 quiet minutes.", phase3),
        PhaseView("phase-4", "Phase 4: Progressive rollout", "4a internal, 4b half, 4c everyone, gate by gate.",
                  phase4),
        PhaseView("day-1", "Day 1 after full rollout", "Post-deployment verification.", [day1]),
        PhaseView("week-1", "Week 1 after full rollout", "Post-deployment verification.", [week1]),
    ]  # fmt: skip
    for phase in phases:
        if phase.key in TIME_BOXES:
            phase.box_words, phase.box = TIME_BOXES[phase.key]
            phase.now = now
    next_step = next((step for phase in phases for step in phase.steps if not step.is_done), None)
    return Cockpit(
        phases=phases,
        next_step=next_step,
        record=_latest_record(),
        can_manage_records=caps["records"],
        latest_run=monitoring_selectors.latest_finished_run(),
        critical_alerts=monitoring_selectors.open_critical_alerts(limit=10),
        stage=state,
        poll_seconds=settings.COCKPIT_POLL_SECONDS,
        now=now,
        can_decide=caps["stages"],
    )


def timeboxes(*, user, now: datetime | None = None) -> list[dict]:
    """Each phase's runbook time box against its actual time, as the cockpit says it (PhaseView.timebox_text)."""
    return [
        {"phase": phase.title, "box": phase.box_words, "text": phase.timebox_text, "overran": phase.overran,
         "state": phase.state_label}
        for phase in build(user=user, now=now).phases if phase.box_words
    ]  # fmt: skip
