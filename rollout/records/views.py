"""Deployment record pages: the list, editing, the record with its facts, its Markdown, signing."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from rollout import errors, permissions
from rollout.forms import DeploymentRecordForm
from rollout.models import DeploymentRecord
from rollout.records import facts, selectors, services
from rollout.responses import require


# --- Deployment records ---------------------------------------------------------------------------
@require_GET
def record_list(request: HttpRequest):
    require(permissions.can_view(request.user))
    records = DeploymentRecord.objects.select_related("deployer", "reviewer")[:100]
    return render(
        request,
        "rollout/records.html",
        {"records": records, "can_manage": permissions.can_manage_records(request.user)},
    )


@require_http_methods(["GET", "POST"])
def record_edit(request: HttpRequest, pk: int | None = None):
    """Create (no pk) or edit an unsigned record."""
    require(permissions.can_manage_records(request.user))
    record = get_object_or_404(DeploymentRecord, pk=pk) if pk else None
    if record and (record.deployer_signed_at or record.reviewer_signed_at):
        messages.error(request, "A signed record cannot be edited.")
        return redirect("rollout:record", pk=record.pk)
    initial = {}
    if record is None:
        # A new record starts with the deployment (its first Phase 1 step) and its deployer is whoever starts it.
        initial = {"started_at": facts.deployment_start(), "deployer": request.user.pk}
    form = DeploymentRecordForm(request.POST or None, instance=record, initial=initial)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            if record:
                record = services.update_record(actor=request.user, record_id=record.pk, **values)
            else:
                record = services.create_record(actor=request.user, **values)
        except ValidationError as exc:
            form.add_error(None, exc)
        except errors.RolloutError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Deployment record saved.")
            return redirect("rollout:record", pk=record.pk)
    return render(request, "rollout/record_form.html", {"form": form, "record": record})


def _record_context(request: HttpRequest, record: DeploymentRecord) -> dict:
    contents = selectors.record_contents(record)
    hint = services.signing_hint(record, request.user)
    is_signer = request.user.pk in (record.deployer_id, record.reviewer_id)
    return {
        "record": record,
        "timeline": contents["timeline"],
        "monitoring": contents["monitoring"],
        # Records frozen before the cockpit existed carry no verification or milestones.
        "verification": contents.get("verification"),
        "milestones": contents.get("milestones"),
        # Records frozen before issue 21 carry no checklist, time boxes or decisions.
        "checklist": contents.get("checklist"),
        "timeboxes": contents.get("timeboxes"),
        "decisions": contents.get("decisions"),
        "can_sign": not hint,
        "show_sign": is_signer and not record.is_signed,
        "sign_hint": hint,
        "sign_as": "deployer" if request.user.pk == record.deployer_id else "reviewer",
        "can_edit": permissions.can_manage_records(request.user)
        and not (record.deployer_signed_at or record.reviewer_signed_at),
    }


@require_GET
def record_detail(request: HttpRequest, pk: int):
    """The record laid out as the runbook's template; prints cleanly (navigation and buttons hidden)."""
    require(permissions.can_view(request.user))
    record = get_object_or_404(DeploymentRecord.objects.select_related("deployer", "reviewer"), pk=pk)
    return render(request, "rollout/record.html", _record_context(request, record))


@require_GET
def record_markdown(request: HttpRequest, pk: int):
    require(permissions.can_view(request.user))
    record = get_object_or_404(DeploymentRecord.objects.select_related("deployer", "reviewer"), pk=pk)
    response = render(
        request, "rollout/record.md", _record_context(request, record), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="deployment-record-{record.pk}.md"'
    return response


@require_POST
def record_sign(request: HttpRequest, pk: int):
    record = get_object_or_404(DeploymentRecord, pk=pk)
    require(request.user.pk in (record.deployer_id, record.reviewer_id))
    try:
        services.sign_record(actor=request.user, record_id=record.pk)
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except errors.RolloutError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Signed.")
    return redirect("rollout:record", pk=record.pk)


# (The flag read API for clients lives in rollout/flags/api.py.)
