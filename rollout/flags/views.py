"""Flag pages: flipping a flag, its allow-list, and "why is this bar on?"."""

import uuid

from django.contrib import messages
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from adminpanel.htmx import HtmxHttpRequest
from rollout import confirmations, errors, permissions
from rollout.flags import explain, services
from rollout.forms import AllowListForm, FlipFlagForm
from rollout.models import FeatureFlag
from rollout.responses import confirmation_page, form_errors, require, run_and_go_back


@require_POST
def flip_flag(request: HttpRequest, key: str):
    """Flip a flag after one confirmation that says how many bars it changes; without it nothing changes."""
    flag = get_object_or_404(FeatureFlag, key=key)
    require(permissions.can_flip(request.user, flag))
    form = FlipFlagForm(request.POST)
    if not form.is_valid():
        messages.error(request, form_errors(form))
        return redirect("rollout:page")
    data = form.cleaned_data
    if flag.kill_switch_engaged:
        messages.error(request, errors.KILL_SWITCH_HOLDS)
        return redirect("rollout:page")
    if flag.state == data["state"]:
        messages.warning(request, f"{flag.key} already is {flag.state_label.lower()}: nothing changed.")
        return redirect("rollout:page")
    confirmation = confirmations.flip(user=request.user, flag=flag, state=data["state"], reason=data["reason"])
    try:
        confirmations.check(data["confirm_token"], user=request.user, action="flip", fields=confirmation.fields)
    except confirmations.ConfirmationMissing as exc:
        error = str(exc) if data["confirm_token"] else ""
        return confirmation_page(request, confirmation, action_url=reverse("rollout:flip", args=[key]), error=error)
    return run_and_go_back(
        request,
        form,
        lambda data: services.flip_flag(actor=request.user, flag_key=key, state=data["state"], reason=data["reason"]),
    )


@require_POST
def allow_list(request: HttpRequest, key: str):
    flag = get_object_or_404(FeatureFlag, key=key)
    require(permissions.can_flip(request.user, flag))

    def call(data):
        add = data["action"] == "add"
        changed = services.change_allow_list(
            actor=request.user, flag_key=key, bar=data["bar"], add=add, reason=data["reason"]
        )
        verb = "added to" if add else "removed from"
        note = "" if changed else " (it already was: nothing changed)"
        messages.success(request, f"{data['bar'].name} {verb} the allow-list of {key}{note}.")

    return run_and_go_back(request, AllowListForm(request.POST, requester=request.user), call)


# --- "Why is this bar on?" ------------------------------------------------------------------------
@require_GET
def explain_page(request: HtmxHttpRequest):
    """Pick a bar by name (search as you type), then see every input of its flags and the final values."""
    require(permissions.can_view(request.user))
    query = request.GET.get("q", "").strip()[:200]
    raw = request.GET.get("bar", "")
    context = {"query": query, "matches": explain.search_bars(query) if query else [], "explanation": None}
    status = 200
    if raw:
        try:
            context["explanation"] = explain.explain_bar(uuid.UUID(raw))
        except ValueError:
            context["error"], status = "That link does not name a bar; pick the bar by its name below.", 400
        else:
            if context["explanation"] is None:
                context["error"], status = "No bar has this id any more; pick the bar by its name below.", 404
    return render(request, "rollout/explain.html", context, status=status)


@require_GET
def explain_matches(request: HtmxHttpRequest):
    """The search-as-you-type list of bars whose name contains `q` (htmx partial)."""
    require(permissions.can_view(request.user))
    query = request.GET.get("q", "").strip()[:200]
    return render(request, "rollout/_bar_matches.html", {"query": query, "matches": explain.search_bars(query)})
