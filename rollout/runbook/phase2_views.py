"""The Phase 2 migrations page (runbook 2.1 and 2.2): the six files, each applied or rolled back by a person
holding ``rollout.apply_migration``, with the runbook's verification output. Logic lives in backfill.phase2."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from adminpanel.bad_input import text_param
from adminpanel.roles import read_all_required
from backfill.phase2 import services as phase2
from backfill.phase2.steps import BY_VERSION, MigrationFileMissing
from rollout.models import DatabaseRestore
from rollout.permissions import can_apply_migrations
from rollout.runbook import phase2_gate

IF_VALIDATION_FAILS = [
    "STOP the deployment.",
    "Review the migration audit logs (Backfill › Migration log, fallbacks only).",
    "Check that the server name mappings are correctly configured.",
    "Roll the migrations back and fix the root cause.",
    "Contact the feature owner for troubleshooting.",
]


def _rows(states):
    rows = []
    for state in states:
        step, run = state["step"], state["run"]
        try:
            _, sha256 = step.read()
            missing = ""
        except MigrationFileMissing as exc:
            sha256, missing = "", str(exc)
        dry = phase2.latest_dry_run(step.version)
        rows.append({
            "step": step, "state": state["state"], "run": run, "sha256": sha256, "missing": missing,
            "changed": bool(run and run.sha256 and sha256 and run.sha256 != sha256),
            "dry": dry, "dry_changed": bool(dry and sha256 and dry.sha256 != sha256),
        })  # fmt: skip
    return rows


@require_GET
@read_all_required
def phase2_page(request: HttpRequest):
    """Every step with its state, who applied it, the file's sha256 and the verification query's output."""
    states = phase2.step_states()
    rows = _rows(states)
    next_row = next((r for r in rows if r["state"] == "not_applied"), None)
    last_applied = next((r for r in reversed(rows) if r["state"] != "not_applied"), None)
    failed = next((r for r in rows if r["run"] and r["state"] == "applied" and not r["run"].passed), None)
    refused = next((r for r in rows if r["state"] == "not_applied" and r["run"] and r["run"].action == "apply"
                    and not r["run"].passed), None)  # fmt: skip
    blockers = phase2_gate.blockers(next_row["step"].version) if next_row else []
    return render(request, "rollout/phase2.html", {
        "rows": rows, "next_row": next_row, "last_applied": last_applied, "failed": failed, "refused": refused,
        "may_apply": can_apply_migrations(request.user), "if_validation_fails": IF_VALIDATION_FAILS,
        "blockers": blockers, "hard_blockers": [b for b in blockers if not b.overridable],
        "dry_run": DatabaseRestore.objects.filter(kind=DatabaseRestore.Kind.DRY_RUN).select_related("backup").first(),
    })  # fmt: skip


def _step_or_404(request):
    version = text_param(request.POST, "version", label="Step")
    if version not in BY_VERSION:
        raise Http404("No such runbook migration.")
    return version


@require_POST
def phase2_apply(request: HttpRequest):
    """Apply the next runbook migration (its version must be the one the page offered)."""
    if not can_apply_migrations(request.user):
        raise PermissionDenied("Applying the runbook's migrations needs rollout.apply_migration.")
    version = _step_or_404(request)
    override_reason = text_param(request.POST, "override_reason", label="Override reason")
    try:
        run = phase2_gate.apply_checked(version=version, actor=request.user, override_reason=override_reason)
    except phase2.Phase2Error as exc:
        messages.error(request, str(exc))
        return redirect(reverse("rollout:phase2"))
    if run.passed:
        messages.success(request, f"Step {run.step_number} applied in {run.duration_ms} ms and verified.")
    elif run.step_number not in {s["step"].number for s in phase2.step_states() if s["state"] != "not_applied"}:
        messages.error(request, f"Step {run.step_number} was refused by the database and nothing changed: {run.error}")
    else:
        messages.error(request, f"Step {run.step_number} applied, but its verification FAILED: Phase 2 stops here.")
    return redirect(f"{reverse('rollout:phase2')}#step-{run.step_number}")


@require_POST
def phase2_rollback(request: HttpRequest):
    """Roll back the last applied runbook migration (runbook 2.2 "Rollback migrations"), with a reason."""
    if not can_apply_migrations(request.user):
        raise PermissionDenied("Rolling back the runbook's migrations needs rollout.apply_migration.")
    version = _step_or_404(request)
    reason = text_param(request.POST, "reason", label="Reason").strip()
    if not reason:
        messages.error(request, "Say why: rolling a migration back needs a reason.")
        return redirect(reverse("rollout:phase2"))
    try:
        run = phase2.rollback_migration(version=version, actor=request.user, reason=reason)
    except phase2.Phase2Error as exc:
        messages.error(request, str(exc))
        return redirect(reverse("rollout:phase2"))
    if run.passed:
        messages.success(request, f"Step {run.step_number} rolled back; its verification no longer passes, as meant.")
    else:
        messages.error(request, f"Step {run.step_number} rolled back, but {run.error}.")
    return redirect(f"{reverse('rollout:phase2')}#step-{run.step_number}")
