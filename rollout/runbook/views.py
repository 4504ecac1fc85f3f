"""The home page (the runbook cockpit) and the runbook steps the panel runs: run, waive, CI record, Option B."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from adminpanel.bad_input import text_param
from adminpanel.htmx import HtmxHttpRequest
from adminpanel.paging import estimated_row_counts
from adminpanel.roles import can_operate, can_read_all, read_all_required, roles_of
from monitoring.health import selectors as monitoring_selectors
from monitoring.incidents import selectors as incident_selectors
from rollout import confirmations, errors, permissions, tasks
from rollout.forms import CiRunForm, CockpitAdvanceForm, RunStepForm, WaiveForm
from rollout.killswitch import selectors
from rollout.models import FeatureFlag, RunbookRun, RunbookStep
from rollout.responses import confirmation_page, form_errors, require
from rollout.runbook import cockpit, code_rollback, runs, steps
from rollout.runbook.phase1 import StepRefused
from rollout.stages import services


# --- Home: the runbook cockpit -------------------------------------------------------------------------------
@require_GET
def home(request: HttpRequest):
    """The landing page: one section per role the user holds, nothing for roles they lack. Support, product
    owners and superusers land on the runbook cockpit (where the deployment stands, what to do next); bar managers
    keep their bars (they never see the rollout or monitoring)."""
    roles = roles_of(request.user)
    context = {"roles": roles}
    if can_read_all(request.user):
        context["cockpit"] = cockpit.build(user=request.user)
        context["kill"] = selectors.kill_switch_status()
        context["can_rollback"] = permissions.capabilities(request.user)["rollback"]
        context["monitoring"] = True
        context["open_incidents"] = incident_selectors.open_incidents(limit=5)
    if roles.manages_bars:
        context["managed_bars"] = monitoring_selectors.bars_for_manager(request.user)
    if roles.is_support or roles.is_superuser:
        context["recent_errors"] = monitoring_selectors.recent_errors()
        context["row_estimates"] = estimated_row_counts(
            ["sales", "consignments", "returns", "audit_logs", "migration_server_id_log"]
        )
    if roles.is_product or roles.is_superuser:
        context["flags"] = FeatureFlag.objects.annotate(allow_listed=Count("allowed_bars"))
        context["adoption"] = monitoring_selectors.adoption()
    return render(request, "rollout/home.html", context)


@require_GET
@read_all_required
def cockpit_partial(request: HtmxHttpRequest):
    """The cockpit alone, which the home page polls (htmx) so running steps show their progress by themselves."""
    context = {
        "cockpit": cockpit.build(user=request.user),
        "kill": selectors.kill_switch_status(),
        "can_rollback": permissions.capabilities(request.user)["rollback"],
    }
    return render(request, "rollout/_cockpit.html", context)


def _to_step(step: str):
    return redirect(f"{reverse('home')}#step-{step}")


@require_POST
def runbook_run_step(request: HttpRequest, step: str):
    """Ask for a Phase 1 step or the Phase 3 deployment check; a worker runs it (its progress shows on the cockpit)."""
    if step not in steps.EXECUTED:
        raise Http404("The panel does not run such a step.")
    require(can_operate(request.user))
    form = RunStepForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return _to_step(step)
    data = form.cleaned_data
    parameters = {name: data[name] for name in ("rate", "seconds", "build_hash") if data[name] not in (None, "")}
    try:
        run = runs.request_run(actor=request.user, step=step, parameters=parameters, confirm=data["confirm"])
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except (StepRefused, errors.RolloutError) as exc:
        messages.error(request, str(exc))
        return _to_step(step)
    tasks.enqueue_run(run)
    run.refresh_from_db()
    title = steps.STEP_SPECS[step].title
    if run.status == RunbookRun.Status.PASSED:
        messages.success(request, f"{title}: passed. {run.summary}")
    elif run.status == RunbookRun.Status.FAILED:
        messages.error(request, f"{title}: failed. {run.summary or run.error}")
    else:
        messages.success(request, f"{title}: started; its progress shows below.")
    return _to_step(step)


@require_POST
def runbook_waive(request: HttpRequest, step: str):
    """Waive a Phase 1 or Phase 3 step with a reason (audited); a waiver never opens a rollout gate."""
    if step not in steps.STEP_SPECS:
        raise Http404("No such runbook step.")
    require(can_operate(request.user))
    form = WaiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why: a waiver needs a reason.")
        return _to_step(step)
    try:
        runs.waive_step(actor=request.user, step=step, reason=form.cleaned_data["reason"])
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except (StepRefused, errors.RolloutError) as exc:
        messages.error(request, str(exc))
    else:
        messages.warning(request, f"{steps.STEP_SPECS[step].title}: waived. The reason is in the history.")
    return _to_step(step)


@require_POST
def runbook_ci(request: HttpRequest):
    """Record the release's CI run (tests, build, type-check, lint): the panel cannot run BarTender's suite."""
    require(can_operate(request.user))
    form = CiRunForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return _to_step(RunbookStep.TEST_SUITE)
    data = form.cleaned_data
    try:
        run = runs.record_ci_run(
            actor=request.user, url=data["url"], passed=data["result"] == "passed", note=data["note"]
        )
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except StepRefused as exc:
        messages.error(request, str(exc))
    else:
        (messages.success if run.status == RunbookRun.Status.PASSED else messages.error)(request, run.summary)
    return _to_step(RunbookStep.TEST_SUITE)


@require_POST
def cockpit_advance(request: HttpRequest):
    """Start the next stage (or its next batch) from the cockpit, after the confirmation that names its bars."""
    require(permissions.can_operate_stages(request.user))
    form = CockpitAdvanceForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect(f"{reverse('home')}#phase-4")
    data = form.cleaned_data
    if data["override_reason"] and not permissions.can_override_gates(request.user):
        raise PermissionDenied("Overriding a gate needs the permission rollout.override_gate.")
    fields = {"version": data["version"], "batch_size": None, "override_reason": data["override_reason"]}
    try:
        confirmations.check(data["confirm_token"], user=request.user, action="advance", fields=fields)
    except confirmations.ConfirmationMissing as exc:
        # An override typed on the cockpit (or a stale or foreign token): the confirmation page with its figures.
        if FeatureFlag.objects.filter(kill_switch_engaged=True).exists():
            messages.error(request, errors.KILL_SWITCH_HOLDS)
            return redirect(f"{reverse('home')}#phase-4")
        confirmation = confirmations.advance(user=request.user, **fields)
        error = str(exc) if data["confirm_token"] else ""
        return confirmation_page(request, confirmation, action_url=reverse("rollout:advance"), error=error)
    try:
        result = services.advance_stage(
            actor=request.user, expected_version=data["version"], override_reason=data["override_reason"]
        )
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except errors.RolloutError as exc:
        messages.error(request, str(exc))
    else:
        (messages.success if result.applied else messages.warning)(request, result.message)
    return redirect(f"{reverse('home')}#phase-4")


@require_GET
def runbook_run(request: HttpRequest, pk: int):
    """One run of a runbook step: who, when, its parameters, its figures in words, and the shell equivalent."""
    require(permissions.can_view(request.user))
    run = get_object_or_404(RunbookRun.objects.select_related("requested_by"), pk=pk)
    return render(
        request,
        "rollout/runbook_run.html",
        {"run": run, "spec": steps.STEP_SPECS.get(run.step), "backups": list(run.backups.all())},
    )


@require_POST
def code_rollback_view(request: HttpRequest):
    """Rollback Option B: the deploy hook asked for an earlier build, then the health URL watched for it."""
    require(permissions.can_trigger_rollback(request.user))
    token = text_param(request.POST, "confirm_token", label="Confirmation")[:1000]
    try:
        build, reason = code_rollback.clean_request(
            build=text_param(request.POST, "build", label="Build"),
            reason=text_param(request.POST, "reason", label="Reason"),
        )
        fields = {"build": build, "reason": reason}
        try:
            confirmations.check(token, user=request.user, action="code_rollback", fields=fields)
        except confirmations.ConfirmationMissing as exc:
            # Asked once, on a page naming the hook, the build and what the health URL serves now.
            confirmation = code_rollback.confirmation(user=request.user, build=build, reason=reason)
            error = str(exc) if token else ""
            return confirmation_page(request, confirmation, action_url=reverse("rollout:code_rollback"), error=error)
        rollback = code_rollback.request_code_rollback(actor=request.user, build=build, reason=reason)
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except errors.RolloutError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("rollout:page") + "#option-b")
    if tasks.enqueue_code_rollback(rollback):
        rollback.refresh_from_db()
        messages.success(request, f"Code rollback #{rollback.pk} to {rollback.build}: "
                                  f"{rollback.summary or 'the deploy hook is being called; this page shows the outcome.'}")  # noqa: E501  # fmt: skip
    else:
        messages.error(
            request, f"Code rollback #{rollback.pk} could not be queued: the task broker (Redis) is unreachable."
        )  # noqa: E501
    return redirect(reverse("rollout:page") + "#option-b")
