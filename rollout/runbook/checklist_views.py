"""The cockpit's two forms for what people put on record: a 4a checklist item attested with a link, and a decision
(proceed, roll back, abort). Thin: parse, check the permission, call rollout/runbook/attestations.py, say what
happened."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from rollout import errors, permissions
from rollout.forms import ChecklistAttestForm, DecisionForm
from rollout.runbook import attestations, checklist


def _back(anchor: str):
    return redirect(f"{reverse('home')}#{anchor}")


@require_POST
def checklist_attest(request: HttpRequest):
    """Attest a 4a checklist item the data cannot show, with a link and a note (permission to advance stages)."""
    if not permissions.can_operate_stages(request.user):
        raise PermissionDenied("Attesting needs a product owner holding flip_flag on both flags.")
    form = ChecklistAttestForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Nothing was attested: " + " ".join(e for errs in form.errors.values() for e in errs))
        return _back("checklist-4a")
    data = form.cleaned_data
    try:
        attestations.attest_item(actor=request.user, item=data["item"], url=data["url"], note=data["note"])
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except errors.RolloutError as exc:
        messages.error(request, f"Nothing was attested: {exc}")
    else:
        messages.success(request, f"Attested “{checklist.ITEMS[data['item']]}” with {data['url']}.")
    return _back("checklist-4a")


@require_POST
def decision_record(request: HttpRequest):
    """Record a decision (proceed, roll back, abort) with its reason; it shows in the deployment record."""
    if not permissions.can_operate_stages(request.user):
        raise PermissionDenied("Recording a decision needs a product owner holding flip_flag on both flags.")
    form = DecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "No decision was recorded: choose one and say why.")
        return _back("decisions")
    data = form.cleaned_data
    try:
        event = attestations.record_decision(actor=request.user, decision=data["decision"], reason=data["reason"])
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except errors.RolloutError as exc:
        messages.error(request, f"No decision was recorded: {exc}")
    else:
        messages.success(request, f"Decision recorded: {event.after['label']}.")
    return _back("decisions")
