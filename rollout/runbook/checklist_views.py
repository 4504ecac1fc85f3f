"""The cockpit's two forms for what people put on record: a 4a checklist item attested with a link, and a decision
(proceed, roll back, abort). Thin: parse, check the permission, call rollout/runbook/attestations.py, say what
happened."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import reverse
from django.views.decorators.http import require_POST

from rollout import permissions
from rollout.forms import ChecklistAttestForm, DecisionForm
from rollout.responses import run_and_go_back
from rollout.runbook import attestations, checklist


@require_POST
def checklist_attest(request: HttpRequest):
    """Attest a 4a checklist item the data cannot show, with a link and a note (permission to advance stages)."""
    if not permissions.can_operate_stages(request.user):
        raise PermissionDenied("Attesting needs a product owner holding flip_flag on both flags.")
    return run_and_go_back(
        request,
        ChecklistAttestForm(request.POST),
        lambda data: attestations.attest_item(
            actor=request.user, item=data["item"], url=data["url"], note=data["note"]
        ),
        lambda _, data: f"Attested “{checklist.ITEMS[data['item']]}” with {data['url']}.",
        back=f"{reverse('home')}#checklist-4a",
        refused="Nothing was attested: ",
    )


@require_POST
def decision_record(request: HttpRequest):
    """Record a decision (proceed, roll back, abort) with its reason; it shows in the deployment record."""
    if not permissions.can_operate_stages(request.user):
        raise PermissionDenied("Recording a decision needs a product owner holding flip_flag on both flags.")
    return run_and_go_back(
        request,
        DecisionForm(request.POST),
        lambda data: attestations.record_decision(actor=request.user, decision=data["decision"], reason=data["reason"]),
        lambda event, _: f"Decision recorded: {event.after['label']}.",
        back=f"{reverse('home')}#decisions",
        refused="No decision was recorded: ",
    )
