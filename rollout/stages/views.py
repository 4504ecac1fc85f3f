"""The rollout page and its stage controls: advance, pause, resume, stage rollback, the autopilot."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from adminpanel.htmx import HtmxHttpRequest
from rollout import confirmations, errors, permissions
from rollout.events import selectors as event_selectors
from rollout.flags import selectors as flag_selectors
from rollout.forms import AdvanceForm, AutopilotForm, ReasonForm, StageRollbackForm
from rollout.killswitch import selectors as kill_switch_selectors
from rollout.models import FeatureFlag, FlagState
from rollout.responses import confirmation_page, form_errors, require, run_and_go_back
from rollout.runbook import code_rollback
from rollout.stages import autopilot, services
from rollout.stages import selectors as stage_selectors


@require_GET
def rollout_page(request: HtmxHttpRequest):
    """Flags, stages with their cohorts and health, gates, controls and the latest history."""
    require(permissions.can_view(request.user))
    now = timezone.now()
    overview = stage_selectors.rollout_overview(now=now)
    caps = permissions.capabilities(request.user)
    context = {
        "overview": overview,
        "autopilot": autopilot.outlook(
            state=overview.state, gates=overview.gates, entering_next_stage=overview.entering_next_stage, now=now
        ),
        "can_operate": caps["stages"],
        "can_override": caps["override"],
        "can_rollback": caps["rollback"],
        "kill": kill_switch_selectors.kill_switch_status(),
    }
    if request.htmx:
        return render(request, "rollout/_stages.html", context)
    context.update(
        flag_rows=flag_selectors.flag_rows(request.user),
        recent=[(event, event_selectors.event_summary(event)) for event in event_selectors.timeline()[:10]],
        flip_states=[(value, label) for value, label in FlagState.choices if value != FlagState.OFF],
        deploy_hook=bool(code_rollback.hook_url()),
        code_rollbacks=code_rollback.recent(),
    )
    return render(request, "rollout/page.html", context)


@require_POST
def advance(request: HttpRequest):
    """Advance after one confirmation naming how many bars switch ("Advance to 4b switches 4,403 bars")."""
    require(permissions.can_operate_stages(request.user))
    form = AdvanceForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect("rollout:page")
    data = form.cleaned_data
    if data["override_reason"] and not permissions.can_override_gates(request.user):
        raise PermissionDenied("Overriding a gate needs the permission rollout.override_gate.")
    if FeatureFlag.objects.filter(kill_switch_engaged=True).exists():
        messages.error(request, errors.KILL_SWITCH_HOLDS)
        return redirect("rollout:page")
    confirmation = confirmations.advance(
        user=request.user,
        version=data["version"],
        batch_size=data["batch_size"],
        override_reason=data["override_reason"],
    )
    try:
        confirmations.check(data["confirm_token"], user=request.user, action="advance", fields=confirmation.fields)
    except confirmations.ConfirmationMissing as exc:
        error = str(exc) if data["confirm_token"] else ""
        return confirmation_page(request, confirmation, action_url=reverse("rollout:advance"), error=error)
    return run_and_go_back(
        request,
        form,
        lambda data: services.advance_stage(
            actor=request.user,
            expected_version=data["version"],
            batch_size=data["batch_size"],
            override_reason=data["override_reason"],
        ),
    )


@require_POST
def pause(request: HttpRequest):
    require(permissions.can_operate_stages(request.user))
    return run_and_go_back(
        request,
        ReasonForm(request.POST),
        lambda data: services.pause_rollout(actor=request.user, reason=data["reason"]),
        "The rollout is paused: it holds its stage.",
    )


@require_POST
def resume(request: HttpRequest):
    require(permissions.can_operate_stages(request.user))
    return run_and_go_back(
        request,
        ReasonForm(request.POST),
        lambda data: services.resume_rollout(actor=request.user, reason=data["reason"]),
        "The rollout is resumed.",
    )


@require_POST
def stage_rollback(request: HttpRequest):
    require(permissions.can_trigger_rollback(request.user))
    return run_and_go_back(
        request,
        StageRollbackForm(request.POST),
        lambda data: services.rollback_stage(
            actor=request.user, expected_version=data["version"], reason=data["reason"]
        ),
    )


@require_POST
def autopilot_on(request: HttpRequest):
    """Turn the autopilot on (confirmed once, with a reason); the same check runs again in the service."""
    require(permissions.can_operate_stages(request.user))
    return run_and_go_back(
        request,
        AutopilotForm(request.POST),
        lambda data: autopilot.enable_autopilot(
            actor=request.user, batch_size=data["batch_size"], reason=data["reason"]
        ),
        "The autopilot is on: it advances by itself whenever every gate passes, and pauses when a safeguard "
        "trips. Take manual control at any time.",
    )


@require_POST
def autopilot_off(request: HttpRequest):
    """Take manual control: one click, nothing else changes."""
    require(permissions.can_operate_stages(request.user))
    try:
        autopilot.take_manual_control(actor=request.user)
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    messages.success(request, "You have manual control: the autopilot is off and the rollout stays where it is.")
    return redirect("rollout:page")
