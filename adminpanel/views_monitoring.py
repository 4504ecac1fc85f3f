"""Monitoring pages and partials: health status, alerts, the runbook's dashboards, phase windows.

Support, product owners and superusers may look; only product owners and superusers may run the checks now,
acknowledge an alert or start a phase window. Bar managers see none of it. Nothing here talks to Redis except
"run now", which falls back to running in the web process when the broker is unreachable.
"""

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect
from django_htmx.middleware import HtmxDetails

from adminpanel import health, selectors, tasks
from adminpanel.audit import record_event
from adminpanel.models import HealthRun
from adminpanel.roles import roles_of


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def can_view_monitoring(user) -> bool:
    roles = roles_of(user)
    return roles.is_support or roles.is_product or roles.is_superuser


def can_operate_monitoring(user) -> bool:
    roles = roles_of(user)
    return roles.is_product or roles.is_superuser


def _require_view(request) -> None:
    if not can_view_monitoring(request.user):
        raise PermissionDenied("Monitoring is for support staff and product owners.")


def _require_operate(request) -> None:
    if not can_operate_monitoring(request.user):
        raise PermissionDenied("Only product owners may do this.")


# --- Charts: server-rendered inline SVG, no CDN ---------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    title: str
    css: str = ""


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list
    max_label: str
    first_label: str
    last_label: str
    empty: bool


def column_chart(points, *, width=600, height=120, fixed_max=None, fmt="{:g}", time_fmt="%H:%M", unit="") -> Chart:
    """Columns for a time series of :class:`selectors.SeriesPoint` (None values leave a gap)."""
    values = [p.value for p in points if p.value is not None]
    top = fixed_max or max(values, default=0) or 1
    step = width / max(len(points), 1)
    bars = []
    for i, point in enumerate(points):
        when = timezone.localtime(point.at).strftime(time_fmt)
        if point.value is None:
            bars.append(Bar(i * step, height - 2, max(step - 1, 1), 2, f"{when}: no data", "nodata"))
            continue
        h = max(point.value / top * (height - 4), 1 if point.value else 0)
        bars.append(Bar(i * step, height - h, max(step - 1, 1), h, f"{when}: {fmt.format(point.value)}{unit}"))
    return Chart(
        width=width,
        height=height,
        bars=bars,
        max_label=f"{fmt.format(top)}{unit}",
        first_label=timezone.localtime(points[0].at).strftime(time_fmt) if points else "",
        last_label=timezone.localtime(points[-1].at).strftime(time_fmt) if points else "",
        empty=not any(values),
    )


def _status_context() -> dict:
    fresh = health.freshness()
    return {
        "freshness": fresh,
        "check_rows": selectors.latest_check_rows(fresh.last_run),
        "alerts": selectors.dashboard_alerts(),
    }


def _charts_context() -> dict:
    now = timezone.now()
    errors = selectors.error_tracking_per_minute(now=now)
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
    return {"phase_windows": selectors.phase_windows(), "phase_specs": health.PHASES, "now": now}


def monitoring_context(user) -> dict:
    """Everything the home dashboard shows a monitoring user."""
    return {
        **_status_context(),
        **_charts_context(),
        **_phase_context(),
        "can_operate": can_operate_monitoring(user),
    }


# --- Partials (htmx) and pages --------------------------------------------------------------------------------


@require_GET
def status_partial(request: HtmxHttpRequest):
    _require_view(request)
    context = {**_status_context(), "can_operate": can_operate_monitoring(request.user)}
    return render(request, "adminpanel/_health_status.html", context)


@require_GET
def charts_partial(request: HtmxHttpRequest):
    _require_view(request)
    return render(request, "adminpanel/_health_charts.html", _charts_context())


@require_GET
def phases_partial(request: HtmxHttpRequest):
    _require_view(request)
    context = {**_phase_context(), "can_operate": can_operate_monitoring(request.user)}
    return render(request, "adminpanel/_phase_windows.html", context)


@require_GET
def alert_list(request: HtmxHttpRequest):
    _require_view(request)
    raw = request.GET.get("before", "")
    if raw and not raw.isdigit():
        return HttpResponse("`before` must be an alert id.", status=400)
    alerts = selectors.alert_history(before_id=int(raw) if raw else None)
    return render(
        request,
        "adminpanel/monitoring/alerts.html",
        {"alerts": alerts, "next_before": alerts[-1].pk if len(alerts) == 50 else None},
    )


@require_GET
def run_detail(request: HtmxHttpRequest, run_id: int):
    _require_view(request)
    run = selectors.run_with_results(run_id)
    if run is None:
        raise Http404("No such health run.")
    return render(
        request, "adminpanel/monitoring/run.html", {"run": run, "check_rows": selectors.latest_check_rows(run)}
    )


def _back_home(request: HtmxHttpRequest):
    if request.htmx:
        return HttpResponseClientRedirect(reverse("home"))
    return redirect("home")


@require_POST
def run_now(request: HtmxHttpRequest):
    """Queue a run on the workers; if the broker is down, run it here (the suite takes well under a second)."""
    _require_operate(request)
    task_id = tasks.enqueue_health_run(user=request.user)
    if task_id:
        run = HealthRun.objects.filter(task_id=task_id).first()  # set when Celery runs eagerly
        messages.success(request, "Health checks queued; the table refreshes when the run is done.")
        target_id = run.pk if run else task_id
    else:
        run = health.run_health_checks(trigger=HealthRun.Trigger.MANUAL, triggered_by=request.user)
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
def acknowledge(request: HtmxHttpRequest, alert_id: int):
    _require_operate(request)
    try:
        health.acknowledge_alert(alert_id=alert_id, user=request.user, comment=request.POST.get("comment", ""))
    except health.InvalidAcknowledgement as exc:
        messages.error(request, str(exc))
        return _back_home(request) if not request.htmx else _status_response(request, status=400)
    except health.AlertNotAcknowledgeable as exc:
        messages.error(request, str(exc))
        return _back_home(request) if not request.htmx else _status_response(request, status=409)
    messages.success(request, "Alert acknowledged.")
    return _back_home(request) if not request.htmx else _status_response(request)


def _status_response(request, status: int = 200):
    context = {**_status_context(), "can_operate": can_operate_monitoring(request.user)}
    return render(request, "adminpanel/_health_status.html", context, status=status)


@require_POST
def start_phase(request: HtmxHttpRequest):
    _require_operate(request)
    kind = request.POST.get("kind", "")
    try:
        window = health.start_phase_window(kind=kind, user=request.user)
    except health.UnknownPhaseWindow as exc:
        messages.error(request, str(exc))
        return _phase_response(request, status=400) if request.htmx else _back_home(request)
    except health.PhaseWindowAlreadyRunning as exc:
        messages.error(request, str(exc))
        return _phase_response(request, status=409) if request.htmx else _back_home(request)
    messages.success(request, f"{window.get_kind_display()} started; verdict at {window.ends_at:%Y-%m-%d %H:%M}.")
    return _phase_response(request) if request.htmx else _back_home(request)


def _phase_response(request, status: int = 200):
    context = {**_phase_context(), "can_operate": can_operate_monitoring(request.user)}
    return render(request, "adminpanel/_phase_windows.html", context, status=status)
