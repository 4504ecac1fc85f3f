"""Incident pages (DESIGN.md section 4c): the list, opening one, the incident with its live impact, actions, updates,
notifications and communication template, the contact chain, and the root-cause page with its rows and CSV.

Support staff, product owners and superusers see and handle incidents; everyone else (bar managers) gets 403.
Views parse, check, call one function of monitoring.incidents and render; refusals become messages.
"""

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from adminpanel.bad_input import text_param
from adminpanel.csv_export import csv_response, stream_csv
from adminpanel.htmx import HtmxHttpRequest
from adminpanel.paging import IdKeyset, keyset_page
from adminpanel.roles import read_all_required
from monitoring.incidents import communication, root_cause
from monitoring.incidents import outreach as incident_outreach
from monitoring.incidents import selectors as incident_selectors
from monitoring.incidents import services as incidents
from monitoring.incidents.contact_chain import next_tier
from monitoring.incidents.forms import IncidentUpdateForm, OpenIncidentForm, SendCommunicationForm
from monitoring.models import Incident, IncidentStatus

LIST_STATES = {"open": "Open", "resolved": "Resolved", "": "All"}


def _incident_or_404(pk: int) -> Incident:
    incident = incident_selectors.incident_detail(pk)
    if incident is None:
        raise Http404("No such incident.")
    return incident


def _form_errors(form) -> str:
    return " ".join(str(error) for errors in form.errors.values() for error in errors)


def _page_query(params) -> str:
    query = params.copy()
    for name in ("after", "before"):
        query.pop(name, None)
    return query.urlencode()


# --- List and opening ----------------------------------------------------------------------------------------
@require_GET
@read_all_required
def incident_list(request: HtmxHttpRequest):
    """Incidents newest first (open ones by default), one key page at a time."""
    state = request.GET.get("state", "open")
    if state not in LIST_STATES:
        state = "open"
    page = keyset_page(
        incident_selectors.incident_queryset(state=state),
        keyset=IdKeyset,
        size=20,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    context = {
        "page": page,
        "state": state,
        "states": LIST_STATES,
        "base_query": _page_query(request.GET),
        "filtered": True,
    }
    if request.htmx and request.htmx.target == "log-rows":
        return render(request, "monitoring/_incident_rows.html", context)
    return render(request, "monitoring/incidents.html", context)


@require_http_methods(["GET", "POST"])
@read_all_required
def incident_new(request: HtmxHttpRequest):
    form = OpenIncidentForm(request.POST or None, initial={"owner": request.user.username})
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            incident = incidents.open_incident(
                actor=request.user,
                severity=data["severity"],
                issue=data["issue"],
                started_at=data["started_at"],
                owner=data["owner"],
                next_update_at=form.next_update_at(),
            )
        except incidents.NotAllowed as exc:
            raise PermissionDenied(str(exc)) from exc
        except incidents.IncidentError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, f"Incident #{incident.pk} opened; the {incident.tier or 'chain'} is told.")
            return redirect("monitoring:incident", pk=incident.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "handlers": incident_selectors.incident_handlers()}
    return render(request, "monitoring/incident_form.html", context, status=status)


# --- One incident -------------------------------------------------------------------------------------------
def _live_context(incident: Incident) -> dict:
    now = timezone.now()
    comm = communication.communication_for(incident, now=now)
    return {
        "incident": incident,
        "impact": comm.impact,
        "actions": incident_selectors.actions_taken(incident, now=now),
        "communication": comm,
        "communication_text": communication.render_text(comm),
        "impact_stale": incident_selectors.impact_is_stale(incident, now=now),
        "now": now,
    }


def _detail_context(incident: Incident, *, update_form=None, send_form=None) -> dict:
    return {
        **_live_context(incident),
        "updates": incident_selectors.incident_updates(incident),
        "notifications": incident_selectors.incident_notifications(incident),
        "history": incident_selectors.incident_history(incident),
        "chain": incident_selectors.contact_chain(),
        "handlers": incident_selectors.incident_handlers(),
        "update_form": update_form
        or IncidentUpdateForm(initial={"status": incident.status, "severity": incident.severity}),
        "send_form": send_form or SendCommunicationForm(initial={"tier": incident.tier_id}),
        "escalate_after": settings.INCIDENT_ESCALATE_AFTER_MINUTES.get(incident.severity),
        "next_tier": next_tier(incident.tier) if incident.tier_id else None,
        "alert_label": incident_selectors.check_label(incident.alert.check_name) if incident.alert else "",
        "customer_notice": incident_outreach.customer_notice_draft(incident),
        "status_page": bool(settings.STATUS_PAGE_WEBHOOK_URL),
    }


@require_GET
@read_all_required
def incident_detail(request: HtmxHttpRequest, pk: int):
    incident = _incident_or_404(pk)
    return render(request, "monitoring/incident.html", _detail_context(incident))


@require_GET
@read_all_required
def incident_live(request: HtmxHttpRequest, pk: int):
    """The impact, actions and communication template as they stand now (polled while the incident is open)."""
    incident = _incident_or_404(pk)
    return render(request, "monitoring/_incident_live.html", _live_context(incident))


def _run(request, pk: int, call, success: str):
    """Run one service call; a refusal becomes a message, nothing is changed. Always back to the incident."""
    try:
        call()
    except incidents.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except incidents.UnknownIncident as exc:
        raise Http404(str(exc)) from exc
    except incidents.IncidentError as exc:
        messages.error(request, str(exc))
        return redirect("monitoring:incident", pk=pk)
    messages.success(request, success)
    return redirect("monitoring:incident", pk=pk)


@require_POST
@read_all_required
def incident_acknowledge(request: HtmxHttpRequest, pk: int):
    return _run(
        request,
        pk,
        lambda: incidents.acknowledge_incident(actor=request.user, incident_id=pk),
        "Acknowledged: escalation stops here.",
    )


@require_POST
@read_all_required
def incident_update(request: HtmxHttpRequest, pk: int):
    incident = _incident_or_404(pk)
    form = IncidentUpdateForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"The update was not posted: {_form_errors(form)}")
        context = _detail_context(incident, update_form=form)
        return render(request, "monitoring/incident.html", context, status=400)
    data = form.cleaned_data
    resolving = data["status"] == IncidentStatus.RESOLVED
    return _run(
        request,
        pk,
        lambda: incidents.post_update(
            actor=request.user,
            incident_id=pk,
            status=data["status"],
            severity=data["severity"],
            message=data["message"],
            next_update_at=form.next_update_at(),
            owner=data["owner"],
        ),
        "Incident resolved; its impact is frozen." if resolving else "Update posted.",
    )


@require_POST
@read_all_required
def incident_send(request: HtmxHttpRequest, pk: int):
    incident = _incident_or_404(pk)
    form = SendCommunicationForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Nothing was sent: {_form_errors(form)}")
        return redirect("monitoring:incident", pk=incident.pk)
    tier = form.cleaned_data["tier"]
    return _run(
        request,
        pk,
        lambda: incidents.send_communication(actor=request.user, incident_id=pk, tier_id=tier.pk),
        f"The communication template is queued for the {tier.name}; it goes out within a minute.",
    )


OUTREACH = {
    "customer_notice": ("Customer notice", incident_outreach.record_customer_notice,
                        "The customer notice is recorded on the incident."),
    "status_page": ("Status page update", incident_outreach.update_status_page,
                    "The status page update is queued; it goes out within a minute."),
}  # fmt: skip


@require_POST
@read_all_required
def incident_outreach_view(request: HtmxHttpRequest, pk: int, kind: str):
    """A customer notice recorded, or a status-page update sent (monitoring.incidents.outreach)."""
    label, call, success = OUTREACH[kind]
    text = text_param(request.POST, "text", label=label)
    return _run(request, pk, lambda: call(actor=request.user, incident_id=pk, text=text), success)


@require_GET
@read_all_required
def incident_communication(request: HtmxHttpRequest, pk: int, fmt: str):
    """The communication template as a plain-text or Markdown download."""
    incident = _incident_or_404(pk)
    comm = communication.communication_for(incident)
    if fmt == "md":
        response = HttpResponse(communication.render_markdown(comm), content_type="text/markdown; charset=utf-8")
    else:
        response = HttpResponse(communication.render_text(comm), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="incident-{incident.pk}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@read_all_required
def contact_chain(request: HtmxHttpRequest):
    context = {"chain": incident_selectors.contact_chain(), "escalate_after": settings.INCIDENT_ESCALATE_AFTER_MINUTES}
    return render(request, "monitoring/contacts.html", context)


# --- Root cause -------------------------------------------------------------------------------------------
class BadWindow(Exception):
    pass


def _window(request, pk: int | None) -> root_cause.RcaWindow:
    if pk is not None:
        return root_cause.window_for_incident(_incident_or_404(pk))
    raw = request.GET.get("until", "")
    if not raw:
        return root_cause.window_until()
    try:
        until = parse_datetime(raw) if raw.isascii() and "\x00" not in raw else None
    except ValueError:  # well formed but impossible: month 13, hour 99
        until = None
    if until is None:
        raise BadWindow("`until` must be a date and time such as 2026-01-02T14:30:00+00:00.")
    if timezone.is_naive(until):
        until = timezone.make_aware(until)
    return root_cause.window_until(min(until, timezone.now()))


def _rca_context(request, pk, kind=None) -> dict | HttpResponse:
    try:
        window = _window(request, pk)
    except BadWindow as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    if kind is not None and kind not in root_cause.KINDS:
        raise Http404("No such root-cause query.")
    until = request.GET.get("until", "") if pk is None else ""
    return {"window": window, "kind": kind, "until_query": f"?until={until}" if until else ""}


@require_GET
@read_all_required
def root_cause_page(request: HtmxHttpRequest, pk: int | None = None):
    """The runbook's RCA queries for the window, each with its figure, summary and links to its rows and CSV."""
    context = _rca_context(request, pk)
    if isinstance(context, HttpResponse):
        return context
    context["sections"] = root_cause.root_cause(context["window"])
    return render(request, "monitoring/root_cause.html", context)


@require_GET
@read_all_required
def root_cause_rows(request: HtmxHttpRequest, kind: str, pk: int | None = None):
    """The rows behind one figure, newest first, one key page at a time."""
    context = _rca_context(request, pk, kind)
    if isinstance(context, HttpResponse):
        return context
    source = root_cause.ROW_SOURCES[kind]
    context.update(
        source=source,
        page=keyset_page(
            source.queryset(context["window"]),
            keyset=source.keyset,
            size=settings.INCIDENT_PAGE_SIZE,
            after=request.GET.get("after", ""),
            before=request.GET.get("before", ""),
        ),
        base_query=_page_query(request.GET),
        filtered=True,
    )
    if request.htmx and request.htmx.target == "log-rows":
        return render(request, "monitoring/_root_cause_rows.html", context)
    return render(request, "monitoring/root_cause_rows.html", context)


@require_GET
@read_all_required
def root_cause_csv(request: HtmxHttpRequest, kind: str, pk: int | None = None):
    """Every row behind one figure as CSV, streamed in key-ordered chunks."""
    context = _rca_context(request, pk, kind)
    if isinstance(context, HttpResponse):
        return context
    source = root_cause.ROW_SOURCES[kind]
    lines = stream_csv(
        source.queryset(context["window"]), keyset=source.keyset, header=source.header, row_values=source.values
    )
    prefix = f"incident-{pk}-{kind}" if pk else f"root-cause-{kind}"
    return csv_response(lines, prefix=prefix)
