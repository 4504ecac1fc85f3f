"""The cockpit's steps of Phases 1 to 3, Day 1 and Week 1: each one's state, evidence and next action, read from
the runs, the migration table, the backfill, the validation and monitoring's windows."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import User
from adminpanel.roles import PRODUCT, can_operate
from backfill import selectors as backfill_selectors
from backfill.phase2 import services as phase2_services
from monitoring.enums import CheckStatus, PhaseKind, PhaseVerdict
from monitoring.health import selectors as monitoring_selectors
from rollout import permissions
from rollout.models import RunbookRun, RunbookStep, Stage
from rollout.records.facts import PHASE1_STEPS
from rollout.runbook.runs import is_stalled
from rollout.runbook.steps import STEP_SPECS

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
    # Stage 4a: its Internal Testing Checklist (rollout.runbook.checklist), and whether this user may attest an item.
    checklist: object | None = None
    may_attest: bool = False

    @property
    def state_label(self) -> str:
        return STATE_LABELS[self.state]

    @property
    def is_done(self) -> bool:
        return self.state in DONE


def duration(delta: timedelta) -> str:
    """A duration in words: days and hours, or hours and minutes ("1 d 2 h", "3 h 5 min")."""
    minutes = int(delta.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d"] * bool(days) + [f"{hours} h"] * bool(hours) + [f"{minutes} min"] * (not days)
    return " ".join(parts) or "0 min"


# The runbook's headings: "Phase 1 (2 hours)", "Phase 2 (30 minutes)", "Phase 3 (15 minutes)", "Phase 4 (1-3 days)".


# --- Who may ---------------------------------------------------------------------------------------------------
class People:
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


def user_can(user) -> dict:
    """What the user may do on the cockpit: operate, and the rollout page's capabilities."""
    operator = can_operate(user)
    caps = permissions.capabilities(user) if operator else {"stages": False, "override": False, "rollback": False}
    return {
        "operate": operator,
        "stages": caps["stages"],
        "override": caps["override"],
        "rehearse": caps["stages"] and caps["rollback"],
        "records": permissions.can_manage_records(user),
    }


# --- Phase 1 and the Phase 3 deployment check (runs of rollout.runbook.runs) -----------------------------------------
def latest_runs() -> dict[str, RunbookRun]:
    """The latest run of every runbook step, in one query (DISTINCT ON step)."""
    runs = RunbookRun.objects.order_by("step", "-created_at", "-id").distinct("step")
    return {run.step: run for run in runs}


def run_step(step: str, run: RunbookRun | None, *, may: bool, people: People, now, needs: str = "") -> StepView:
    """The cockpit's view of a runbook step the panel runs, from its latest run (or none)."""
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
def migrations_step() -> StepView:
    """Phase 2's six migrations, each applied (by the panel or outside it) or not, and whether its check passed."""
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


def backfill_step(*, may: bool, people: People, run) -> StepView:
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


def validation_step(*, may: bool, people: People, backfill_finished_at) -> StepView:
    """The post-migration validation (2.2) from its latest run; a pass from before the backfill finished is stale."""
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


def window_step(key, number, title, what, window, *, may, people, startable) -> StepView:
    """A monitoring window step (Phase 3, Day 1, Week 1): not started, open, or its verdict."""
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
