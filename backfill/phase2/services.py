"""Phase 2 as the panel's actions: each step applied or rolled back by a person (or the demo), recorded with its
sha256, duration and verification output (``MigrationStepRun``) and audited in ``panel_events``. Callers check the
permission (``rollout.apply_migration``); these functions do the work."""

from django.db import DatabaseError, transaction
from django.utils import timezone

from adminpanel.audit import record_event
from backfill.models import MigrationStepRun
from backfill.phase2 import runner
from backfill.phase2.runner import Phase2Error
from backfill.phase2.steps import BY_VERSION, STEPS, MigrationFileMissing

__all__ = ["Phase2Error", "apply_migration", "latest_dry_run", "record_dry_run", "rollback_migration", "step_states"]


def _record(outcome: runner.StepOutcome, *, actor, action: str, started_at, reason: str = "") -> MigrationStepRun:
    run = MigrationStepRun.objects.create(
        version=outcome.step.version,
        step_number=outcome.step.number,
        action=action,
        actor=actor if getattr(actor, "pk", None) else None,
        actor_name=getattr(actor, "username", None) or "system",
        sha256=outcome.sha256,
        started_at=started_at,
        duration_ms=outcome.duration_ms,
        verification={"columns": outcome.columns, "rows": [[str(v) for v in row] for row in outcome.rows]},
        passed=outcome.passed,
        error=outcome.error,
    )
    record_event(
        actor=actor,
        action=f"phase2.{action}",
        target=run,
        after={
            "step": outcome.step.number, "file": outcome.step.filename, "sha256": outcome.sha256,
            "verification_passed": outcome.passed, "duration_ms": outcome.duration_ms,
        },  # fmt: skip
        reason=reason or f"Runbook 2.1 step {outcome.step.number}",
    )
    return run


def first_line(exc: Exception) -> str:
    """An error's first line, or its type's name when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def apply_migration(*, version: str, actor, reason: str = "") -> MigrationStepRun:
    """Apply one of the six steps (the next in the runbook's order), verify it and record who did it. Raises
    ``Phase2Error`` (in words) when it may not run now. A step the database refuses (its transaction rolled back:
    nothing changed) and a failed verification are recorded, not raised."""
    started_at = timezone.now()
    try:
        outcome = runner.apply_step(version)
    except MigrationFileMissing as exc:
        raise Phase2Error(str(exc)) from exc
    except DatabaseError as exc:
        step = BY_VERSION[version]
        outcome = runner.StepOutcome(step=step, action="apply", sha256=step.read()[1], error=first_line(exc))
    with transaction.atomic():
        return _record(outcome, actor=actor, action=MigrationStepRun.Action.APPLY, started_at=started_at, reason=reason)


def record_dry_run(outcome: runner.StepOutcome, *, actor, started_at, reason: str) -> MigrationStepRun:
    """One step of a dry run (applied to a scratch database restored from the Phase 1 backup), recorded with the
    file's sha256 and its timing: applying that file for real needs it passed, for the same sha256."""
    with transaction.atomic():
        return _record(
            outcome, actor=actor, action=MigrationStepRun.Action.DRY_RUN, started_at=started_at, reason=reason
        )


def latest_dry_run(version: str) -> MigrationStepRun | None:
    """The latest dry run of a migration step (None before the first)."""
    return MigrationStepRun.objects.filter(version=version, action=MigrationStepRun.Action.DRY_RUN).first()


def rollback_migration(*, version: str, actor, reason: str = "") -> MigrationStepRun:
    """Undo the last applied step (runbook 2.2 "Rollback migrations"), verified, recorded and audited."""
    started_at = timezone.now()
    outcome = runner.rollback_step(version)
    with transaction.atomic():
        return _record(
            outcome, actor=actor, action=MigrationStepRun.Action.ROLLBACK, started_at=started_at,
            reason=reason or f"Runbook 2.2: roll back step {outcome.step.number}",
        )  # fmt: skip


def step_states() -> list[dict]:
    """Each step with its state: applied by the panel (its last run), applied outside the panel, or not applied."""
    applied = runner.applied_versions()
    last = {}
    for run in MigrationStepRun.objects.filter(action__in=["apply", "rollback"]).order_by("started_at", "id"):
        last[run.version] = run
    states = []
    for step in STEPS:
        run = last.get(step.version)
        if step.version in applied:
            by_panel = run is not None and run.action == MigrationStepRun.Action.APPLY
            state = "applied" if by_panel else "applied_outside"
        else:
            state = "not_applied"
        states.append({"step": step, "state": state, "run": run if state != "applied_outside" else None})
    return states


def step(version: str):
    """The Phase 2 migration step of a version."""
    return BY_VERSION[version]
