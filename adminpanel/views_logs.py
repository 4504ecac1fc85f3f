"""Migration-log and audit-log pages for support staff, and the post-migration validation panel.

Who may do what (checked on every request, whatever the page shows):
support, product and superusers read every list, summary and validation result and export CSV;
only product owners and superusers run a validation; bar managers (without those roles) get 403.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from django_htmx.middleware import HtmxDetails

from adminpanel import selectors_logs
from adminpanel.filters import AuditLogFilter, MigrationLogFilter
from adminpanel.models import ValidationRun
from adminpanel.roles import roles_of
from adminpanel.validation import latest_validation, run_validation
from mappings.backfill import FALLBACK_REASON_LABELS


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def can_read_logs(user) -> bool:
    roles = roles_of(user)
    return roles.is_support or roles.is_product or roles.is_superuser


def can_operate(user) -> bool:
    """Start/pause/resume the backfill and run validations: product owners and superusers."""
    roles = roles_of(user)
    return roles.is_product or roles.is_superuser


def logs_reader_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_read_logs(request.user):
            raise PermissionDenied("support, product or superuser only")
        return view(request, *args, **kwargs)

    return wrapped


def operator_required(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_operate(request.user):
            raise PermissionDenied("product owners only")
        return view(request, *args, **kwargs)

    return wrapped


def _query_without(request, *names) -> str:
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


def _page_context(request, filterset, keyset) -> dict:
    page = selectors_logs.keyset_page(
        filterset.qs,
        keyset=keyset,
        size=settings.LOGS_PAGE_SIZE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    return {
        "filter": filterset,
        "page": page,
        "base_query": _query_without(request, "after", "before"),
        "estimates": selectors_logs.log_row_estimates(),
        "filtered": any(v for k, v in request.GET.items() if k not in ("after", "before")),
    }


# --- Migration log ---------------------------------------------------------------------------------------


@require_GET
@logs_reader_required
def migration_log(request: HtmxHttpRequest):
    """The migration log, newest first, filtered, one keyset page at a time."""
    filterset = MigrationLogFilter(request.GET or None, queryset=selectors_logs.migration_log_queryset())
    context = _page_context(request, filterset, selectors_logs.IdKeyset)
    users = selectors_logs.users_by_id(row.resolved_server_id for row in context["page"].rows)
    for row in context["page"].rows:
        row.resolved_username = users.get(row.resolved_server_id)
    context["reason_labels"] = FALLBACK_REASON_LABELS
    if request.htmx and request.htmx.target == "log-rows":
        return render(request, "adminpanel/logs/_migration_rows.html", context)
    return render(request, "adminpanel/logs/migration_log.html", context)


@require_GET
@logs_reader_required
def migration_log_summary(request: HtmxHttpRequest):
    """The runbook's root-cause summaries (a partial the list page loads after itself)."""
    context = {"summary": selectors_logs.migration_summary(), "reason_labels": FALLBACK_REASON_LABELS}
    if request.htmx:
        return render(request, "adminpanel/logs/_migration_summary.html", context)
    return render(request, "adminpanel/logs/migration_summary.html", context)


MIGRATION_CSV_HEADER = [
    "id",
    "created_at",
    "source",
    "source_id",
    "bar_id",
    "bar",
    "server_name",
    "resolved_server_id",
    "fallback_used",
    "fallback_reason",
]


def _migration_csv_row(row):
    source, source_id = next(
        (name, value)
        for name, value in (("sale", row.sale_id), ("consignment", row.consignment_id), ("return", row.return_id))
        if value is not None
    )
    return [
        row.pk,
        row.created_at,
        source,
        source_id,
        row.bar_id,
        row.bar.name if row.bar else "",
        row.server_name,
        row.resolved_server_id,
        "true" if row.fallback_used else "false",
        row.fallback_reason,
    ]


def _csv_response(lines, prefix: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{prefix}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@logs_reader_required
def migration_log_export(request: HttpRequest):
    """The filtered migration log as CSV, streamed in keyset chunks."""
    filterset = MigrationLogFilter(request.GET or None, queryset=selectors_logs.migration_log_queryset())
    lines = selectors_logs.stream_csv(
        filterset.qs, keyset=selectors_logs.IdKeyset, header=MIGRATION_CSV_HEADER, row_values=_migration_csv_row
    )
    return _csv_response(lines, "migration-server-id-log")


# --- Audit logs ------------------------------------------------------------------------------------------


@require_GET
@logs_reader_required
def audit_log(request: HtmxHttpRequest):
    """Audit logs, newest first by their own timestamp, filtered, one keyset page at a time."""
    filterset = AuditLogFilter(request.GET or None, queryset=selectors_logs.audit_log_queryset())
    context = _page_context(request, filterset, selectors_logs.CreatedKeyset)
    if request.htmx and request.htmx.target == "log-rows":
        return render(request, "adminpanel/logs/_audit_rows.html", context)
    return render(request, "adminpanel/logs/audit_log.html", context)


@require_GET
@logs_reader_required
def audit_log_chart(request: HtmxHttpRequest):
    """Per-minute server_id errors of the last hour (runbook 4.2 "Error Tracking") as inline SVG, with RCA 1."""
    patterns, patterns_sql = selectors_logs.audit_error_patterns()
    context = {"chart": selectors_logs.error_chart(), "patterns": patterns, "patterns_sql": patterns_sql}
    return render(request, "adminpanel/logs/_error_chart.html", context)


AUDIT_CSV_HEADER = ["id", "created_at", "level", "error_type", "error_message", "bar_id", "bar", "user_id", "payload"]


def _audit_csv_row(row):
    return [
        row.pk,
        row.created_at,
        row.level,
        row.error_type,
        row.error_message,
        row.bar_id,
        row.bar.name if row.bar else "",
        row.user_id,
        row.payload,
    ]


@require_GET
@logs_reader_required
def audit_log_export(request: HttpRequest):
    """The filtered audit logs as CSV, streamed in keyset chunks."""
    filterset = AuditLogFilter(request.GET or None, queryset=selectors_logs.audit_log_queryset())
    lines = selectors_logs.stream_csv(
        filterset.qs, keyset=selectors_logs.CreatedKeyset, header=AUDIT_CSV_HEADER, row_values=_audit_csv_row
    )
    return _csv_response(lines, "audit-logs")


# --- Post-migration validation ---------------------------------------------------------------------------


@require_GET
@logs_reader_required
def validation(request: HttpRequest):
    """The latest stored validation, line by line, and the runs before it."""
    return render(
        request,
        "adminpanel/validation/validation.html",
        {
            "run": latest_validation(),
            "history": ValidationRun.objects.select_related("run_by")[:20],
            "can_run": can_operate(request.user),
        },
    )


@require_GET
@logs_reader_required
def validation_detail(request: HttpRequest, run_id: int):
    run = get_object_or_404(ValidationRun.objects.prefetch_related("checks"), pk=run_id)
    return render(
        request,
        "adminpanel/validation/validation.html",
        {
            "run": run,
            "history": ValidationRun.objects.select_related("run_by")[:20],
            "can_run": can_operate(request.user),
        },
    )


@require_POST
@operator_required
def validation_run(request: HtmxHttpRequest):
    """Run every check now and store the result (one click)."""
    run = run_validation(run_by=request.user)
    if request.htmx:
        return render(request, "adminpanel/validation/_result.html", {"run": run})
    messages.success(request, f"Validation {'passed' if run.passed else 'FAILED'} in {run.duration_ms} ms.")
    return redirect("logs:validation")
