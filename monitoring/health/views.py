"""Monitoring pages and partials: health status, alerts, the runbook's dashboards, phase windows.

Support, product owners and superusers may look and export; only product owners and superusers may run the
checks now, acknowledge an alert or start a phase window. Bar managers see none of it. Nothing here talks
to Redis except "run now", which falls back to running in the web process when the broker is unreachable.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.http import Http404, HttpRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from adminpanel.audit import record_event
from adminpanel.charts import column_chart
from adminpanel.htmx import HtmxHttpRequest
from adminpanel.paging import IdKeyset, keyset_page
from adminpanel.roles import can_operate, operator_required, read_all_required
from monitoring import tasks
from monitoring.health import alerts, freshness, runbook_markdown, selectors, services
from monitoring.incidents import selectors as incident_selectors
from monitoring.models import HealthRun

ALERTS_PAGE = 50


def _status_context() -> dict:
    fresh = freshness.freshness()
    return {
        "freshness": fresh,
        "check_rows": selectors.latest_check_rows(fresh.last_run),
        "alerts": selectors.dashboard_alerts(),
    }


def _charts_context() -> dict:
    now = timezone.now()
    errors = selectors.server_id_errors_per_minute(now=now)
    success = selectors.resolution_success_per_hour(now=now)
    rls_stats = selectors.rls_statement_stats()
    return {
        "error_chart": column_chart(errors, fmt="{:.0f}"),
        "error_total": sum(p.value for p in errors),
        "success_chart": column_chart(success, fixed_max=100, fmt="{:.1f}", unit=" %"),
        "success_latest": next((p.value for p in reversed(success) if p.value is not None), None),
        "rls_stats": rls_stats,
        "rls_max": max((row["mean_ms"] for row in rls_stats or []), default=0) or 1,
        "rls_height": 14 * len(rls_stats or []) or 14,
        "activity": selectors.adoption_activity(now=now),
    }


def _phase_context() -> dict:
    now = timezone.now()
    return {"phase_windows": selectors.phase_windows(), "phase_specs": services.PHASES, "now": now}


def monitoring_context(user) -> dict:
    """Everything the home dashboard shows a monitoring user (open incidents included)."""
    return {
        **_status_context(),
        **_charts_context(),
        **_phase_context(),
        "open_incidents": incident_selectors.open_incidents(limit=5),
        "can_operate": can_operate(user),
    }


# --- Partials (htmx) and pages --------------------------------------------------------------------------------


@require_GET
@read_all_required
def dashboard(request: HtmxHttpRequest):
    """The health dashboard: latest run per check, open alerts, the runbook's four dashboards, phase windows."""
    return render(request, "monitoring/dashboard.html", monitoring_context(request.user))


@require_GET
@read_all_required
def runbook(request: HttpRequest):
    """The runbook itself, section by section with anchors: what every check, alert and mail links to. Internal
    (psql and pg_dump commands, rollback procedures, the contact chain): support, product owners and admins only."""
    return render(request, "monitoring/runbook.html", {"runbook_html": runbook_markdown.runbook_html()})


@require_GET
@read_all_required
def status_partial(request: HtmxHttpRequest):
    context = {**_status_context(), "can_operate": can_operate(request.user)}
    return render(request, "monitoring/_health_status.html", context)


@require_GET
@read_all_required
def charts_partial(request: HtmxHttpRequest):
    return render(request, "monitoring/_health_charts.html", _charts_context())


@require_GET
@read_all_required
def phases_partial(request: HtmxHttpRequest):
    context = {**_phase_context(), "can_operate": can_operate(request.user)}
    return render(request, "monitoring/_phase_windows.html", context)


@require_GET
@read_all_required
def alert_list(request: HtmxHttpRequest):
    """Every alert, newest first, by key pages (a cursor that is not ours is ignored)."""
    page = keyset_page(
        selectors.alert_history(),
        keyset=IdKeyset,
        size=ALERTS_PAGE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    return render(request, "monitoring/alerts.html", {"alerts": page.rows, "page": page})


@require_GET
@read_all_required
def run_detail(request: HtmxHttpRequest, run_id: int):
    run = selectors.run_with_results(run_id)
    if run is None:
        raise Http404("No such health run.")
    return render(request, "monitoring/run.html", {"run": run, "check_rows": selectors.latest_check_rows(run)})


def _back_home(request: HtmxHttpRequest):
    if request.htmx:
        return HttpResponseClientRedirect(reverse("monitoring:dashboard"))
    return redirect("monitoring:dashboard")


@require_POST
@operator_required
def run_now(request: HtmxHttpRequest):
    """Queue a run on the workers; if the broker is down, run it here (the suite takes well under a second)."""
    task_id = tasks.enqueue_health_run(user=request.user)
    if task_id:
        run = HealthRun.objects.filter(task_id=task_id).first()  # set when Celery runs eagerly
        messages.success(request, "Health checks queued; the table refreshes when the run is done.")
        target_id = run.pk if run else task_id
    else:
        run = services.run_health_checks(trigger=HealthRun.Trigger.MANUAL, triggered_by=request.user)
        if run is None:
            messages.warning(request, "Another health run is in progress; try again in a moment.")
        else:
            messages.warning(request, f"The task broker is unreachable: the checks ran in the panel ({run.status}).")
        target_id = run.pk if run else "busy"
    record_event(
        actor=request.user,
        action="health.run_now",
        target=_RunRef(target_id),
        after={"queued": bool(task_id), "task_id": task_id},
    )
    return _back_home(request)


@dataclass(frozen=True)
class _RunRef:
    """An audit target for a run that may not exist yet (queued): its task id until the worker stores it."""

    pk: object
    _meta = HealthRun._meta


@require_POST
@operator_required
def acknowledge(request: HtmxHttpRequest, alert_id: int):
    try:
        alerts.acknowledge_alert(alert_id=alert_id, user=request.user, comment=request.POST.get("comment", ""))
    except alerts.InvalidAcknowledgement as exc:
        messages.error(request, str(exc))
        return _back_home(request) if not request.htmx else _status_response(request, status=400)
    except alerts.AlertNotAcknowledgeable as exc:
        messages.error(request, str(exc))
        return _back_home(request) if not request.htmx else _status_response(request, status=409)
    messages.success(request, "Alert acknowledged.")
    return _back_home(request) if not request.htmx else _status_response(request)


def _status_response(request, status: int = 200):
    context = {**_status_context(), "can_operate": can_operate(request.user)}
    return render(request, "monitoring/_health_status.html", context, status=status)


@require_POST
@operator_required
def start_phase(request: HtmxHttpRequest):
    kind = request.POST.get("kind", "")
    try:
        window = services.start_phase_window(kind=kind, user=request.user)
    except services.UnknownPhaseWindow as exc:
        messages.error(request, str(exc))
        return _phase_response(request, status=400) if request.htmx else _back_home(request)
    except services.PhaseWindowAlreadyRunning as exc:
        messages.error(request, str(exc))
        return _phase_response(request, status=409) if request.htmx else _back_home(request)
    messages.success(request, f"{window.get_kind_display()} started; verdict at {window.ends_at:%Y-%m-%d %H:%M}.")
    if request.htmx:
        return _phase_response(request)
    # Started from the runbook cockpit (the home page): back there.
    return redirect(reverse("home") + "#cockpit") if request.POST.get("return_to") == "cockpit" else _back_home(request)


def _phase_response(request, status: int = 200):
    context = {**_phase_context(), "can_operate": can_operate(request.user)}
    return render(request, "monitoring/_phase_windows.html", context, status=status)


