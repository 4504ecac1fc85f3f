"""Stage gates: a fresh health run, no unresolved critical alert, the current stage's soak time, before 4a the
runbook's prerequisites (backfill finished, post-migration validation passed, Phase 3 window passed), and the
switched bars doing no worse than the bars not yet switched (cohort vs control)."""

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.urls import reverse
from django.utils import timezone

from backfill import selectors as backfill_selectors
from monitoring.enums import PhaseKind, PhaseVerdict
from monitoring.health import selectors as monitoring_selectors
from rollout.models import DatabaseBackup, RolloutState, RunbookRun, RunbookStep, Stage
from rollout.runbook import checklist
from rollout.stages import cohort_compare, cohort_verdicts

HEALTH_FRESH = "health_fresh"
NO_CRITICAL_ALERT = "no_critical_alert"
SOAKED = "soaked"
COHORT = "cohort_vs_control"
BATCH_SOAK = "batch_soak"
GATE_LABELS = {
    BATCH_SOAK: "Time between automatic batches",
    HEALTH_FRESH: "Fresh health run",
    NO_CRITICAL_ALERT: "No open critical alert",
    SOAKED: "Soak time",
    COHORT: "Switched bars do no worse than the rest",
}
# Runbook prerequisites of stage 4a (DESIGN.md section 4).
BACKFILL_FINISHED = "backfill_finished"
VALIDATION_PASSED = "validation_passed"
PHASE3_WINDOW_PASSED = "phase3_window_passed"
PHASE1_DONE = "phase1_done"
GATE_LABELS.update(
    {
        BACKFILL_FINISHED: "Backfill finished (runbook 2.1 step 6)",
        VALIDATION_PASSED: "Post-migration validation passed (runbook 2.2)",
        PHASE3_WINDOW_PASSED: "Phase 3 monitoring window passed (runbook 3.3)",
        PHASE1_DONE: "Phase 1 done (runbook 1.1-1.3)",
    }
)
# Stage 4b's prerequisite: 4a's Internal Testing Checklist (runbook 4.1) complete.
CHECKLIST_4A = "checklist_4a"
GATE_LABELS[CHECKLIST_4A] = "4a Internal Testing Checklist complete (runbook 4.1)"


@dataclass(frozen=True)
class GateResult:
    name: str
    passed: bool
    why: str
    evidence: dict = field(default_factory=dict)
    # Where a person checks the evidence (a run, a validation, the cockpit step).
    evidence_url: str = ""

    @property
    def label(self) -> str:
        return GATE_LABELS[self.name]

    def as_dict(self) -> dict:
        return asdict(self)


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def health_gate(*, now: datetime) -> GateResult:
    limit = timedelta(minutes=settings.ROLLOUT_HEALTH_FRESHNESS_MINUTES)
    run = monitoring_selectors.latest_finished_run()
    if run is None:
        return GateResult(HEALTH_FRESH, False, "No health run has finished yet.")
    age = now - run.finished_at
    if age >= limit:
        return GateResult(
            HEALTH_FRESH,
            False,
            f"The latest health run finished {_minutes(age)} min ago; the gate wants one younger than "
            f"{_minutes(limit)} min.",
        )
    return GateResult(HEALTH_FRESH, True, f"Health run #{run.pk} ({run.status}) finished {_minutes(age)} min ago.")


def alert_gate() -> GateResult:
    alerts = sorted(monitoring_selectors.open_critical_alerts(), key=lambda alert: alert.opened_at)
    checks = [alert.check_name for alert in alerts]
    if checks:
        return GateResult(NO_CRITICAL_ALERT, False, f"Unresolved critical alert on: {', '.join(checks)}.")
    return GateResult(NO_CRITICAL_ALERT, True, "No unresolved critical alert.")


def soak_gate(*, state: RolloutState, now: datetime) -> GateResult:
    if state.stage == Stage.OFF:
        return GateResult(SOAKED, True, "Nothing to soak before the first stage.")
    needed = timedelta(hours=settings.ROLLOUT_SOAK_HOURS.get(state.stage, 24))
    if state.soak_started_at is None:
        return GateResult(SOAKED, False, f"Stage {state.stage} has no recorded start.")
    soaked = now - state.soak_started_at
    if soaked < needed:
        return GateResult(
            SOAKED,
            False,
            f"Stage {state.stage} has soaked {soaked.total_seconds() / 3600:.1f} h of the "
            f"{needed.total_seconds() / 3600:g} h it needs.",
        )
    return GateResult(SOAKED, True, f"Stage {state.stage} has soaked {soaked.total_seconds() / 3600:.1f} h.")


def batch_soak_gate(*, state: RolloutState, now: datetime) -> GateResult:
    """The autopilot's own gate between two batches of one stage (ROLLOUT_AUTOPILOT_BATCH_SOAK_MINUTES), so that
    each batch has figures before the next; a person pressing "next batch" decides that for themselves."""
    needed = timedelta(minutes=settings.ROLLOUT_AUTOPILOT_BATCH_SOAK_MINUTES)
    since = now - state.soak_started_at if state.soak_started_at else needed
    if since < needed:
        minutes = since.total_seconds() / 60
        why = f"The last batch ran {minutes:.0f} min ago; the autopilot waits {needed.total_seconds() / 60:g} min."
        return GateResult(BATCH_SOAK, False, why)
    return GateResult(BATCH_SOAK, True, "The last batch has soaked long enough.")


def cohort_gate(*, state: RolloutState, now: datetime, entering_next_stage: bool, comparison=None) -> GateResult:
    """Harm closes it always; "not enough data yet" closes it before a new stage (ROLLOUT_COHORT_GATE_NEEDS_DATA)
    and lets a next batch of the same stage through. The comparison's figures go with it as evidence."""
    comparison = comparison or cohort_compare.current_comparison(now=now, state=state)
    evidence = comparison.as_evidence()
    if not comparison.applies:
        return GateResult(COHORT, True, "Nothing switched yet: no cohort to compare.", evidence)
    if comparison.verdict == cohort_verdicts.HARM:
        return GateResult(COHORT, False, f"{comparison.summary}.", evidence)
    if comparison.verdict == cohort_verdicts.NOT_ENOUGH:
        if entering_next_stage and settings.ROLLOUT_COHORT_GATE_NEEDS_DATA:
            return GateResult(
                COHORT, False, f"Not enough data yet to start a new stage — {comparison.summary}.", evidence
            )
        return GateResult(COHORT, True, f"No harm seen, not enough data yet — {comparison.summary}.", evidence)
    return GateResult(COHORT, True, "No evidence of harm: " + _metric_figures(comparison) + ".", evidence)


def _metric_figures(comparison) -> str:
    return "; ".join(f"{m.label} {m.switched} vs {m.control}" for m in comparison.metrics)


def _when(moment) -> str:
    """A stored time as people read it (rows written by hand or by older code may lack one)."""
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}" if moment else "at a time not recorded"


def latest_full_backfill():
    """The latest real (not dry) backfill over every bar: the one runbook step 6 means."""
    return backfill_selectors.latest_full_backfill()


def backfill_gate() -> GateResult:
    url = reverse("backfill:backfill")
    run = latest_full_backfill()
    if run is None:
        return GateResult(BACKFILL_FINISHED, False, "No backfill over every bar has run yet.", evidence_url=url)
    if run.status != run.Status.FINISHED:
        return GateResult(
            BACKFILL_FINISHED, False, f"Backfill run #{run.pk} is {run.get_status_display().lower()} "
            f"({run.percent:g} % done).", evidence_url=url,
        )  # fmt: skip
    return GateResult(
        BACKFILL_FINISHED,
        True,
        f"Backfill run #{run.pk} finished {_when(run.finished_at or run.updated_at)}: {run.rows_done:,} rows, "
        f"{run.resolved_directly:,} by mapping, {run.resolved_by_fallback:,} by fallback, "
        f"{run.unresolved:,} unresolved.",
        evidence_url=url,
    )


def validation_gate() -> GateResult:
    run = backfill_selectors.latest_validation()
    if run is None:
        return GateResult(VALIDATION_PASSED, False, "The post-migration validation has never run.",
                          evidence_url=reverse("backfill:validation"))  # fmt: skip
    url = reverse("backfill:validation_detail", args=[run.pk])
    if not run.passed:
        failed = "; ".join(f"{c.label}: {c.value} (expected {c.expected})" for c in run.checks.filter(passed=False))
        return GateResult(VALIDATION_PASSED, False, f"Validation #{run.pk} failed — {failed}.", evidence_url=url)
    backfill = latest_full_backfill()
    if backfill is not None and backfill.finished_at and run.started_at < backfill.finished_at:
        return GateResult(
            VALIDATION_PASSED, False, f"Validation #{run.pk} passed, but before backfill run #{backfill.pk} "
            "finished: run it again.", evidence_url=url,
        )  # fmt: skip
    return GateResult(
        VALIDATION_PASSED, True, f"Validation #{run.pk} passed {_when(run.started_at)}.", evidence_url=url
    )


def phase3_window_gate() -> GateResult:
    url = reverse("home") + "#phase-3"
    window = monitoring_selectors.latest_window(PhaseKind.PHASE3)
    if window is None:
        return GateResult(PHASE3_WINDOW_PASSED, False, "No Phase 3 monitoring window has run: verify the code "
                          "deployment on the cockpit.", evidence_url=url)  # fmt: skip
    if window.verdict == PhaseVerdict.PENDING:
        return GateResult(PHASE3_WINDOW_PASSED, False,
                          f"The Phase 3 window is running until {timezone.localtime(window.ends_at):%H:%M}.",
                          evidence_url=url)  # fmt: skip
    if window.verdict != PhaseVerdict.PASSED:
        return GateResult(PHASE3_WINDOW_PASSED, False,
                          f"The Phase 3 window of {_when(window.started_at)} "
                          f"{window.get_verdict_display().lower()}.", evidence_url=url)  # fmt: skip
    return GateResult(PHASE3_WINDOW_PASSED, True,
                      f"The Phase 3 window passed {_when(window.verdict_at)}.", evidence_url=url)  # fmt: skip


# Phase 1's steps that must have passed (a waiver is not a pass: overriding the gate, with a reason, is).
PHASE1_STEPS = (RunbookStep.BACKUP, RunbookStep.FLAGS_OFF, RunbookStep.LOAD_TEST, RunbookStep.ROLLBACK_REHEARSAL)


def phase1_missing(steps=PHASE1_STEPS) -> list[str]:
    """Which of Phase 1's `steps` have not passed (their latest run), in words; the backup must also be readable."""
    readable = Exists(DatabaseBackup.objects.filter(run=OuterRef("pk"), verified=True))
    latest = RunbookRun.objects.filter(step__in=steps).order_by("step", "-created_at", "-id").distinct("step")
    runs = {run.step: run for run in latest.annotate(readable=readable)}  # one query
    missing = []
    for step in steps:
        run = runs.get(step)
        label = RunbookStep(step).label
        if run is None or run.status != RunbookRun.Status.PASSED:
            missing.append(f"{label} ({run.get_status_display().lower() if run else 'never run'})")
        elif step == RunbookStep.BACKUP and not run.readable:
            missing.append(f"{label} (its archive could not be read back)")
    return missing


def phase1_gate() -> GateResult:
    missing = phase1_missing()
    url = reverse("home") + "#phase-1"
    if missing:
        return GateResult(PHASE1_DONE, False, "Phase 1 is not done: " + "; ".join(missing) + ".", evidence_url=url)
    return GateResult(PHASE1_DONE, True, "Phase 1 done: backup read back, flags off, load test and rehearsal passed.",
                      evidence_url=url)  # fmt: skip


def checklist_gate(*, now: datetime) -> GateResult:
    """Stage 4a's Internal Testing Checklist complete, naming the items still missing and why."""
    result = checklist.build(now=now)
    url = reverse("home") + "#checklist-4a"
    evidence = {"done": result.done, "of": len(result.items), "missing": [item.key for item in result.missing]}
    if not result.complete:
        missing = "; ".join(f"{item.label} ({item.why.rstrip('.')})" for item in result.missing)
        return GateResult(CHECKLIST_4A, False, f"{result.done} of {len(result.items)} items done. Missing: {missing}.",
                          evidence, url)  # fmt: skip
    return GateResult(CHECKLIST_4A, True, f"All {len(result.items)} items done, from the test bars' data "
                      "and one attestation.", evidence, url)  # fmt: skip


def prerequisite_gates() -> list[GateResult]:
    """What the runbook wants done before the first stage: Phase 1 done, Phase 2 complete and Phase 3 watched."""
    return [phase1_gate(), backfill_gate(), validation_gate(), phase3_window_gate()]


def evaluate_gates(
    *, state: RolloutState, now: datetime, entering_next_stage: bool, comparison=None
) -> list[GateResult]:
    """Every gate for the next advance; the soak gate only applies when the next advance starts a new stage, the
    runbook's prerequisites only when it starts stage 4a, the 4a checklist only when it starts stage 4b."""
    gates = [health_gate(now=now), alert_gate()]
    if entering_next_stage:
        gates.append(soak_gate(state=state, now=now))
    if entering_next_stage and state.stage == Stage.OFF:
        gates.extend(prerequisite_gates())
    if entering_next_stage and state.stage == Stage.INTERNAL:
        gates.append(checklist_gate(now=now))
    gates.append(cohort_gate(state=state, now=now, entering_next_stage=entering_next_stage, comparison=comparison))
    return gates
