"""The kill switch pages: pulling it (one confirmation) and releasing it (with a reason)."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from rollout import confirmations, errors, permissions
from rollout.forms import KillSwitchForm, ReleaseKillSwitchForm
from rollout.killswitch import selectors, services
from rollout.responses import require

ALREADY_ENGAGED = "The kill switch already was engaged (by another click or another person): nothing changed."


@require_http_methods(["GET", "POST"])
def kill_switch(request: HttpRequest):
    """Runbook Option A behind one confirmation: GET shows how many bars it turns off, POST with the tick and a
    reason does it. While engaged, the page says so and offers the release instead."""
    require(permissions.can_trigger_rollback(request.user))
    kill = selectors.kill_switch_status()
    form = KillSwitchForm(request.POST or None)
    error = ""
    if request.method == "POST" and kill.engaged:
        messages.warning(request, ALREADY_ENGAGED)
        return redirect("rollout:page")
    if request.method == "POST" and form.is_valid():
        try:
            confirmations.check(form.cleaned_data["confirm_token"], user=request.user, action="kill", fields={})
        except confirmations.ConfirmationMissing as exc:
            error = str(exc)
        else:
            try:
                pulled = services.pull_kill_switch(actor=request.user, reason=form.cleaned_data["reason"])
            except errors.NotAllowed as exc:
                raise PermissionDenied(str(exc)) from exc
            if pulled:
                messages.success(
                    request, "Kill switch engaged: both flags are off for every bar. Undo: Release kill switch."
                )
            else:  # another click won the race (it holds the lock first): say so, not an error
                messages.warning(request, ALREADY_ENGAGED)
            return redirect("rollout:page")
    status = 400 if request.method == "POST" else 200
    confirmation = None if kill.engaged else confirmations.kill_switch(user=request.user)
    context = {"form": form, "kill": kill, "confirmation": confirmation, "error": error}
    return render(request, "rollout/kill_switch.html", context, status=status)


def _release(request: HttpRequest, reason: str, *, expected: str):
    try:
        released = services.release_kill_switch(actor=request.user, reason=reason, expected=expected)
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except errors.RolloutError as exc:
        messages.error(request, str(exc))
        return redirect("rollout:page")
    if released:
        messages.success(
            request,
            "Kill switch released: both flags are on again for their allow-listed bars. The rollout stays "
            "paused: resume it when you are ready.",
        )
    else:
        messages.warning(request, "The kill switch was not engaged: nothing changed.")
    return redirect("rollout:page")


@require_http_methods(["GET", "POST"])
def release_kill_switch(request: HttpRequest):
    """The one way back from the kill switch: confirmation with the bars it turns back on, a reason, audited."""
    require(permissions.can_trigger_rollback(request.user))
    kill = selectors.kill_switch_status()
    form = ReleaseKillSwitchForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        if not kill.engaged:
            messages.warning(request, "The kill switch was not engaged: nothing changed.")
            return redirect("rollout:page")
        shown = confirmations.release_fields()
        try:
            confirmations.check(form.cleaned_data["confirm_token"], user=request.user, action="release", fields=shown)
        except confirmations.ConfirmationMissing as exc:
            error = str(exc)  # the page again, for the kill switch engaged now, with a new token
        else:
            return _release(request, form.cleaned_data["reason"], expected=shown["kill_switch"])
    if request.method == "GET" and not kill.engaged:
        messages.info(request, "The kill switch is not engaged: there is nothing to release.")
        return redirect("rollout:page")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "kill": kill, "confirmation": confirmations.release(user=request.user), "error": error}
    return render(request, "rollout/release_kill_switch.html", context, status=status)
