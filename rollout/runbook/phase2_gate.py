"""What must hold before a Phase 2 step is applied for real (DESIGN §1, runbook 2.1).

- Every file has a passed dry run for its current sha256 (a file changed since its dry run needs a new one). This
  is never overridden: the dry run touches only a scratch copy, so there is no reason to skip it.
- Phase 2 starts (its first step) only after Phase 1's backup is verified and the flags were read off. A person
  may override that, with a reason, audited and on the rollout timeline.
The Phase 2 page, the command and the demo apply steps through :func:`apply_checked`.
"""

from dataclasses import dataclass

from django.db import transaction

from backfill.phase2 import runner
from backfill.phase2 import services as phase2
from backfill.phase2.steps import BY_VERSION, STEPS, MigrationFileMissing
from rollout.events.services import _record
from rollout.models import EventKind, RolloutState, RunbookStep
from rollout.stages.gates import phase1_missing
from rollout.stages.services import locked_state


@dataclass(frozen=True)
class Blocker:
    text: str
    overridable: bool


def dry_run_blocker(version: str) -> Blocker | None:
    step = BY_VERSION[version]
    try:
        _, sha256 = step.read()
    except MigrationFileMissing as exc:
        return Blocker(str(exc), False)
    last = phase2.latest_dry_run(version)
    if last is None:
        return Blocker(f"Step {step.number} has no dry run: run the dry run first (it restores the Phase 1 backup "
                       "into a scratch database and applies the files there).", False)  # fmt: skip
    if last.sha256 != sha256:
        return Blocker(f"{step.filename} has changed since its dry run (sha256 {sha256[:12]}…, dry-run "
                       f"{last.sha256[:12] or 'none'}…): run the dry run again.", False)  # fmt: skip
    if not last.passed:
        return Blocker(f"Step {step.number}'s last dry run failed ({last.error or 'its verification failed'}): fix "
                       "the cause and run the dry run again.", False)  # fmt: skip
    return None


def phase1_blockers() -> list[Blocker]:
    """Phase 1's backup verified and the flags read off, by their latest runs (a waiver is not a verification)."""
    missing = phase1_missing((RunbookStep.BACKUP, RunbookStep.FLAGS_OFF))
    return [Blocker(f"Phase 1 is not done: {what}.", True) for what in missing]


def blockers(version: str) -> list[Blocker]:
    found = []
    if not (runner.applied_versions() & {step.version for step in STEPS}):
        found.extend(phase1_blockers())  # Phase 2 starts with this step
    dry = dry_run_blocker(version)
    if dry is not None:
        found.append(dry)
    return found


def apply_checked(*, version: str, actor, override_reason: str = ""):
    """Apply a step for real once its gates hold; Phase 1's may be overridden with a reason (audited)."""
    if version not in BY_VERSION:
        raise phase2.Phase2Error(f"{version} is not one of the runbook's six migrations")
    found = blockers(version)
    hard = [b.text for b in found if not b.overridable]
    if hard:
        raise phase2.Phase2Error(" ".join(hard))
    soft = [b.text for b in found if b.overridable]
    override_reason = (override_reason or "").strip()
    if soft and not override_reason:
        raise phase2.Phase2Error(" ".join(soft) + " Finish Phase 1 first, or override with a reason (audited).")
    if soft:
        with transaction.atomic():
            state = RolloutState.objects.filter(pk=RolloutState.SINGLETON_ID).first() or locked_state()
            _record(kind=EventKind.GATE_OVERRIDE, actor=actor, target=state, stage_before=state.stage,
                    stage_after=state.stage, before={"phase2_gates": soft},
                    after={"phase2_step": BY_VERSION[version].number, "overridden": True},
                    reason=override_reason)  # fmt: skip
    return phase2.apply_migration(version=version, actor=actor, reason=override_reason)
