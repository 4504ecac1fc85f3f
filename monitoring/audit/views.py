"""The audit-log pages: the product's audit log filtered one keyset page at a time, its server_id error chart,
and the filtered rows as CSV. Support, product owners and superusers may look and export."""

from django.http import HttpRequest
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from adminpanel.csv_export import csv_response, stream_csv
from adminpanel.htmx import HtmxHttpRequest
from adminpanel.log_filters import valid_or_bad_input
from adminpanel.paging import CreatedKeyset, estimated_row_counts, keyset_page_context
from adminpanel.pickers import user_label
from adminpanel.presentation import as_json_text
from adminpanel.roles import read_all_required
from monitoring.audit import selectors
from monitoring.audit.filters import AuditLogFilter


@require_GET
@read_all_required
def audit_log(request: HtmxHttpRequest):
    """Audit logs, newest first by their own timestamp, filtered, one keyset page at a time."""
    filterset = AuditLogFilter(request.GET or None, queryset=selectors.audit_log_queryset(), request=request)
    estimates = estimated_row_counts(["audit_logs"])
    context = keyset_page_context(request.GET, filterset, CreatedKeyset, estimates=estimates)
    if request.htmx and request.htmx.target == "log-rows":
        return render(request, "monitoring/_audit_rows.html", context)
    return render(request, "monitoring/audit_log.html", context)


@require_GET
@read_all_required
def audit_log_chart(request: HtmxHttpRequest):
    """Per-minute server_id errors of the last hour (runbook 4.2 "Error Tracking") as inline SVG, with RCA 1."""
    chart = selectors.error_chart()
    patterns, patterns_sql = selectors.server_id_error_patterns(start=chart.start, end=chart.end)
    context = {
        "chart": chart,
        "patterns": patterns,
        "patterns_sql": patterns_sql,
        "since": timezone.localtime(chart.start).strftime("%Y-%m-%dT%H:%M"),
    }
    return render(request, "monitoring/_error_chart.html", context)


AUDIT_CSV_HEADER = [
    "id",
    "created_at",
    "level",
    "error_type",
    "error_message",
    "bar_id",
    "bar",
    "user_id",
    "user",
    "payload",
]


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
        user_label(row.user) if row.user else "",
        as_json_text(row.payload),  # JSON, never a Python repr
    ]


@require_GET
@read_all_required
def audit_log_export(request: HttpRequest):
    """The filtered audit logs as CSV, streamed in keyset chunks."""
    filterset = valid_or_bad_input(
        AuditLogFilter(request.GET or None, queryset=selectors.audit_log_queryset(), request=request)
    )
    lines = stream_csv(filterset.qs, keyset=CreatedKeyset, header=AUDIT_CSV_HEADER, row_values=_audit_csv_row)
    return csv_response(lines, prefix="audit-logs")
