"""The runbook cockpit (DESIGN.md section 4b): every phase's live state on one page, read from the facts.

Phase 1 → Phase 2 → Phase 3 → Phase 4 (4a/4b/4c) → Day 1 → Week 1. Each step says its state (not started, running,
passed, failed, waived with a reason), the evidence with who and when, and the next action for a person allowed
to take it (the others read who may). Nothing here is a box someone ticks where the system can measure the fact:
Phase 1 and Phase 3 steps are runs the panel did (rollout.runbook), Phase 2 reads the migration table, the backfill
run and the validation run, Phase 4 reads the rollout state, Day 1 and Week 1 read monitoring's windows.

It is the home page of product owners and support staff and polls itself, so every read here is bounded: latest
rows by index, never a COUNT over sales (the page stays under 300 ms at 5M sales; bench/cockpit.py).
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from adminpanel import confirmations
from adminpanel.models import User
from adminpanel.roles import PRODUCT, can_operate
from backfill import selectors as backfill_selectors
from backfill.phase2 import services as phase2_services
from monitoring.enums import CheckStatus, PhaseKind, PhaseVerdict
from monitoring.health import selectors as monitoring_selectors
from rollout import checklist, permissions
from rollout.cohort_compare import stored_comparison
from rollout.gates import evaluate_gates, latest_full_backfill
from rollout.models import (
    STAGE_ORDER,
    DeploymentRecord,
    RolloutEvent,
    RolloutState,
    RolloutStep,
    RunbookRun,
    RunbookStep,
    Stage,
    next_stage,
)
from rollout.records import PHASE1_STEPS
from rollout.runbook import STEP_SPECS, is_stalled
from rollout.selectors import kill_switch_engaged, remaining_in_stage

NOT_STARTED, RUNNING, PASSED, FAILED, WAIVED = "not_started", "running", "passed", "failed", "waived"
STATE_LABELS = {
    NOT_STARTED: "Not started",
    RUNNING: "Running",
    PASSED: "Passed",
    FAILED: "Failed",
    WAIVED: "Waived",
}
DONE = (PASSED, WAIVED)

PHASE1_ORDER = PHASE1_STEPS
STAGE_TITLES = {
    Stage.INTERNAL: "Stage 4a: internal test bars",
    Stage.HALF: "Stage 4b: 50 % of the bars",
    Stage.ALL: "Stage 4c: every bar",
}


@dataclass
class Action:
    """The next thing to do on a step: a form the template draws by `kind`, or a link."""

    kind: str  # run | load_test | deploy | ci | validation | window | stage | link
    label: str
    url: str
    step: str = ""
    confirm: str = ""
    blast: str = ""
    extra: dict = field(default_factory=dict)


@dataclass
class StepView:
    key: str
    number: str
    title: str
    what: str
    state: str = NOT_STARTED
    summary: str = ""
    who: str = ""
    when: datetime | None = None
    evidence_url: str = ""
    evidence_label: str = ""
    progress: int | None = None
    progress_note: str = ""
    stalled: bool = False
    lines: list[str] = field(default_factory=list)
    gates: list = field(default_factory=list)
    action: Action | None = None
    may_act: bool = False
    who_may: str = ""
    waivable: bool = False
    command: str = ""
    # Stage 4a: its Internal Testing Checklist (rollout.checklist), and whether this user may attest an item.
    checklist: object | None = None
    may_attest: bool = False

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def is_done(self) -> bool:
        return self.state in DONE


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
        text += f": {verb} {_duration(self.elapsed)}"
        return text + (f", over by {_duration(self.elapsed - self.box)}." if self.overran else ".")

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


def _duration(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * (not days)
    return " ".join(parts) or "0 min"


# The runbook's headings: "Phase 1 (2 hours)", "Phase 2 (30 minutes)", "Phase 3 (15 minutes)", "Phase 4 (1-3 days)".
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
    can_decide: bool = False  # may record a decision (rollout.attestations)


# --- Who may ---------------------------------------------------------------------------------------------------
class _People:
    """Names of the product owners, read once per page (the "who may" of every step)."""

    def __init__(self):
        self._names = None

    def product_owners(self) -> str:
        if self._names is None:
            users = list(
                User.objects.filter(groups__name=PRODUCT, is_active=True)
                .order_by("username")
                .values_list("username", flat=True)[:6]
            )
            self._names = ", ".join(users[:5]) + (" and others" if len(users) > 5 else "") if users else "nobody yet"
        return self._names

    def text(self, needs: str = "") -> str:
        return f"Product owners{needs} may: {self.product_owners()}."


def _user_can(user) -> dict:
    operator = can_operate(user)
    caps = permissions.capabilities(user) if operator else {"stages": False, "override": False, "rollback": False}
    return {
        "operate": operator,
        "stages": caps["stages"],
        "override": caps["override"],
        "rehearse": caps["stages"] and caps["rollback"],
        "records": permissions.can_manage_records(user),
    }


# --- Phase 1 and the Phase 3 deployment check (runs of rollout.runbook) -----------------------------------------
def latest_runs() -> dict[str, RunbookRun]:
    """The latest run of every runbook step, in one query (DISTINCT ON step)."""
    runs = RunbookRun.objects.order_by("step", "-created_at", "-id").distinct("step")
    return {run.step: run for run in runs}


def _run_step(step: str, run: RunbookRun | None, *, may: bool, people: _People, now, needs: str = "") -> StepView:
    spec = STEP_SPECS[step]
    view = StepView(step, spec.number, spec.title, spec.what, command=spec.command, waivable=spec.waivable)
    view.may_act = may
    view.who_may = people.text(needs)
    if run is not None:
        view.who, view.when = run.requested_by_name, run.finished_at or run.started_at or run.created_at
        view.evidence_url = reverse("rollout:runbook_run", args=[run.pk])
        view.evidence_label = f"Run #{run.pk}"
        if run.is_active:
            view.state = RUNNING
            view.progress, view.progress_note = run.progress, run.progress_note
            view.stalled = is_stalled(run, now=now)
            view.summary = (
                "No progress for too long: the worker may be down. Ask again to replace it."
                if view.stalled
                else ("Waiting for a worker." if run.status == RunbookRun.Status.QUEUED else "Working.")
            )
        else:
            view.state = {RunbookRun.Status.PASSED: PASSED, RunbookRun.Status.WAIVED: WAIVED}.get(run.status, FAILED)
            view.summary = run.summary or run.error
        backup_id = (run.result or {}).get("backup")
        if step == RunbookStep.BACKUP and backup_id:
            view.evidence_url = reverse("rollout:backups") + f"#backup-{backup_id}"
            view.evidence_label = "Backups"
    runnable = view.state != RUNNING or view.stalled
    if step == RunbookStep.TEST_SUITE:
        view.action = Action("ci", "Record the CI run", reverse("rollout:runbook_ci"), step=step)
    elif step == RunbookStep.LOAD_TEST and runnable:
        view.action = Action(
            "load_test", "Run the load test" if view.state == NOT_STARTED else "Run the load test again",
            reverse("rollout:runbook_run_step", args=[step]), step=step, confirm=spec.confirm,
            extra={"rate": settings.LOAD_TEST_RATE, "seconds": settings.LOAD_TEST_SECONDS,
                   "max_seconds": settings.LOAD_TEST_MAX_SECONDS, "target": settings.LOAD_TEST_TARGET_MS},
        )  # fmt: skip
    elif step == RunbookStep.DEPLOY_CHECK and runnable:
        view.action = Action(
            "deploy", "Verify the deployment", reverse("rollout:runbook_run_step", args=[step]), step=step,
            extra={"url": settings.BARTENDER_HEALTH_URL, "timeout": settings.PHASE3_POLL_TIMEOUT_SECONDS},
        )  # fmt: skip
    elif runnable:
        label = {
            RunbookStep.BACKUP: "Take the backup",
            RunbookStep.FLAGS_OFF: "Verify the flags are off",
            RunbookStep.ROLLBACK_REHEARSAL: "Rehearse the rollback",
        }[step]
        if view.state != NOT_STARTED:
            label += " again"
        view.action = Action("run", label, reverse("rollout:runbook_run_step", args=[step]), step=step,
                             confirm=spec.confirm)  # fmt: skip
    return view


# --- Phase 2 -----------------------------------------------------------------------------------------------------
def _migrations_step() -> StepView:
    view = StepView(
        "migrations", "2.1", "The runbook's six migrations, in order",
        "A dry run on a scratch copy of the Phase 1 backup first; then each file applied by the panel in one "
        "transaction and checked with the runbook's verification query.",
        command="manage.py apply_runbook_migration --dry-run, then manage.py apply_runbook_migration",
    )  # fmt: skip
    view.evidence_url, view.evidence_label = reverse("rollout:phase2"), "Phase 2 migrations page"
    states = phase2_services.step_states()
    failed = None
    for state in states:
        step, run = state["step"], state["run"]
        if state["state"] == "applied_outside":
            line = f"Step {step.number} {step.filename}: applied outside the panel (found in schema_migrations)"
        elif state["state"] == "applied":
            verdict = "verified" if run.passed else "VERIFICATION FAILED"
            when = f"{timezone.localtime(run.started_at):%Y-%m-%d %H:%M}"
            line = (
                f"Step {step.number} {step.filename}: applied by {run.actor_name} {when} "
                f"in {run.duration_ms} ms, {verdict}"
            )
            if not run.passed and failed is None:
                failed = step
        else:
            line = f"Step {step.number} {step.filename}: not applied"
        view.lines.append(line)
    applied = [s for s in states if s["state"] != "not_applied"]
    view.who_may = "Product owners holding rollout.apply_migration, on the Phase 2 migrations page."
    if failed is not None:
        view.state = FAILED
        view.summary = f"Step {failed.number}'s verification failed: Phase 2 stops here (see the runbook's steps)."
    elif len(applied) == len(states):
        view.state = PASSED
        view.when = max((s["run"].started_at for s in applied if s["run"]), default=None)
        view.summary = "All six applied and verified, in the runbook's order."
    elif applied:
        view.state, view.summary = RUNNING, f"{len(applied)} of 6 applied: apply the next on the Phase 2 page."
    elif not any(phase2_services.latest_dry_run(s["step"].version) for s in states):
        view.summary = "None applied yet: run the dry run on the Phase 2 page first."
    else:
        view.summary = "None applied yet: the dry run is done; apply step 1 on the Phase 2 page."
    return view


def _backfill_step(*, may: bool, people: _People, run) -> StepView:
    """Step 2.1's backfill, from the latest full backfill run (`run`, read once for the whole cockpit)."""
    view = StepView(
        "backfill", "2.1 step 6", "server_id backfill",
        "Every sale, consignment and return without server_id resolved in keyset batches, with one log row each.",
        command="manage.py backfill_server_id",
    )  # fmt: skip
    view.evidence_url, view.evidence_label = reverse("backfill:backfill"), "Backfill page"
    view.may_act, view.who_may = may, people.text()
    if run is None:
        view.summary = "No backfill over every bar has run yet."
        view.action = Action("link", "Open the Backfill page to start it", reverse("backfill:backfill"))
        return view
    view.who = run.started_by.username if run.started_by else run.get_started_via_display()
    view.when = run.finished_at or run.updated_at
    counts = (
        f"{run.rows_done:,} of {run.rows_total:,} rows: {run.resolved_directly:,} by mapping, "
        f"{run.resolved_by_fallback:,} by fallback, {run.unresolved:,} unresolved"
    )
    if run.status == run.Status.FINISHED:
        view.state, view.summary = PASSED, f"Run #{run.pk} finished. {counts}."
    elif run.status == run.Status.FAILED:
        view.state, view.summary = FAILED, f"Run #{run.pk} failed: {run.error or 'see the Backfill page'}. {counts}."
        view.action = Action("link", "Open the Backfill page to resume it", reverse("backfill:backfill"))
    else:
        view.state, view.progress = RUNNING, int(run.percent)
        view.summary = f"Run #{run.pk} is {run.get_status_display().lower()} at {run.percent:g} %. {counts}."
        view.action = Action("link", "Follow it on the Backfill page", reverse("backfill:backfill"))
    return view


def _validation_step(*, may: bool, people: _People, backfill_finished_at) -> StepView:
    view = StepView(
        "validation", "2.2", "Post-migration validation",
        "The runbook's four validation queries and the security checks: server_id population above 95 %, no "
        "orphaned foreign keys, the operatingMode index used, no failed rows, RLS and policies in place.",
    )  # fmt: skip
    view.may_act, view.who_may = may, people.text()
    action = Action("validation", "Run the validation", reverse("backfill:validation_run"))
    run = backfill_selectors.latest_validation()
    if run is None:
        view.summary = "Never run: run it once the backfill has finished."
        view.action = action
        return view
    view.who, view.when = run.run_by_name, run.started_at
    view.evidence_url = reverse("backfill:validation_detail", args=[run.pk])
    view.evidence_label = f"Validation #{run.pk}"
    stale = backfill_finished_at is not None and run.started_at < backfill_finished_at
    if run.passed and not stale:
        view.state, view.summary = PASSED, f"Validation #{run.pk}: every check passed."
        action.label = "Run the validation again"
    elif run.passed:
        view.state = FAILED
        view.summary = f"Validation #{run.pk} passed before the backfill finished: run it again."
    else:
        view.state = FAILED
        failed = [f"{c.label}: {c.value} (expected {c.expected})" for c in run.checks.filter(passed=False)]
        view.summary = f"Validation #{run.pk} failed."
        view.lines = failed
        action.label = "Run the validation again"
    view.action = action
    return view


# --- Phase 3 window, Day 1, Week 1 ---------------------------------------------------------------------------
def latest_windows() -> dict:
    """The latest window of each kind (monitoring's selector)."""
    return monitoring_selectors.latest_windows()


WINDOW_KINDS = {
    "phase3_window": PhaseKind.PHASE3,
    "day1": PhaseKind.DAY1,
    "week1": PhaseKind.WEEK1,
}


def _window_step(key, number, title, what, window, *, may, people, startable) -> StepView:
    view = StepView(key, number, title, what)
    view.may_act, view.who_may = may, people.text()
    kind = WINDOW_KINDS[key]
    start = Action("window", f"Start the {title.lower()}", reverse("monitoring:start_phase"), extra={"kind": kind})
    if window is None:
        view.summary = {
            "phase3_window": "Starts by itself once the deployment is verified (3.2).",
            "day1": "Start it once stage 4c is complete.",
            "week1": "Start it once the Day 1 window has passed.",
        }[key]
        view.action = start if startable else None
        return view
    view.who = window.started_by.username if window.started_by else "system"
    view.when = window.verdict_at or window.started_at
    view.evidence_url, view.evidence_label = reverse("monitoring:dashboard") + "#phase-windows", "Monitoring windows"
    summary = window.summary or {}
    worst = summary.get("worst") or {}
    failed, missing = summary.get("failed") or {}, summary.get("missing") or {}
    bad = [f"{name}: {why}" for name, why in failed.items()] or [
        f"{name}: {status}" for name, status in worst.items() if status and status != CheckStatus.OK
    ]
    if window.verdict == PhaseVerdict.PENDING:
        view.state = RUNNING
        view.summary = f"Watching until {timezone.localtime(window.ends_at):%H:%M}; the verdict comes with the " \
                       "first health run after that."  # fmt: skip
    elif window.verdict == PhaseVerdict.PASSED:
        view.state = PASSED
        view.summary = f"Passed: {(window.summary or {}).get('runs', 0)} health runs, no check at its failing level."
    elif window.verdict == PhaseVerdict.INCONCLUSIVE and not failed:
        # Inconclusive holds (DESIGN §4d): it is not a pass; say what is missing. A person may override the gate
        # that waits on it, with a reason.
        view.state = FAILED
        if not summary.get("runs"):
            view.summary = "Inconclusive: no health run finished inside the window (worker or beat down?)."
        else:
            view.summary = "Inconclusive, so not passed — missing: " + "; ".join(
                f"{name}: {why}" for name, why in missing.items()
            )
        view.action = start
    else:
        view.state = FAILED
        view.summary = f"{window.get_verdict_display()}: " + (
            ", ".join(bad) if bad else "no health run finished inside the window (worker or beat down?)"
        )
        view.action = start
    return view


# --- Phase 4 ---------------------------------------------------------------------------------------------------
def _stage_steps(state: RolloutState, *, user, caps: dict, people: _People, now) -> list[StepView]:
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
    people = _People()
    caps = _user_can(user)
    runs = latest_runs()
    phase1 = [
        _run_step(
            step, runs.get(step), people=people, now=now,
            may=caps["rehearse"] if step == RunbookStep.ROLLBACK_REHEARSAL else caps["operate"],
            needs=" holding rollout.trigger_rollback and flip_flag on both flags"
            if step == RunbookStep.ROLLBACK_REHEARSAL else "",
        )
        for step in PHASE1_ORDER
    ]  # fmt: skip
    finished = latest_full_backfill()
    backfill = _backfill_step(may=caps["operate"], people=people, run=finished)
    finished_at = finished.finished_at if finished and finished.status == finished.Status.FINISHED else None
    phase2 = [
        _migrations_step(),
        backfill,
        _validation_step(may=caps["operate"], people=people, backfill_finished_at=finished_at),
    ]
    windows = latest_windows()
    deploy = _run_step(RunbookStep.DEPLOY_CHECK, runs.get(RunbookStep.DEPLOY_CHECK), may=caps["operate"],
                       people=people, now=now)  # fmt: skip
    phase3 = [
        deploy,
        _window_step(
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
    day1 = _window_step(
        "day1", "Day 1", "Day 1 window",
        "A day after the full rollout: coverage at least 98 %, no orphans, RLS enforced, adoption on track.",
        windows.get(PhaseKind.DAY1), may=caps["operate"], people=people, startable=complete,
    )  # fmt: skip
    week1 = _window_step(
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
