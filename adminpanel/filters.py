"""django-filter FilterSets for the migration-log and audit-log lists (and their CSV exports)."""

from datetime import timedelta

import django_filters
from django import forms
from django.utils import timezone

from adminpanel.models import AuditLog, MigrationServerIdLog
from mappings.backfill import FAILED_PREFIX, FALLBACK_REASON_LABELS, FALLBACK_REASONS

FAILED = "failed"
REASON_CHOICES = [(reason, f"{reason} — {FALLBACK_REASON_LABELS[reason]}") for reason in FALLBACK_REASONS] + [
    (FAILED, "failed: … — the row could not be written")
]
SOURCE_CHOICES = [("sale", "Sales"), ("consignment", "Consignments"), ("return", "Returns")]
WINDOW_CHOICES = [("5m", "Last 5 minutes"), ("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")]
WINDOWS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
DATE_INPUT = {"type": "date"}


class MigrationLogFilter(django_filters.FilterSet):
    bar = django_filters.UUIDFilter(field_name="bar_id", label="Bar id")
    fallback_used = django_filters.BooleanFilter(
        widget=forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])
    )
    reason = django_filters.ChoiceFilter(choices=REASON_CHOICES, method="filter_reason", label="Reason")
    source = django_filters.ChoiceFilter(choices=SOURCE_CHOICES, method="filter_source", label="Source")
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at",
        label="Logged between",
        widget=django_filters.widgets.DateRangeWidget(attrs=DATE_INPUT),
    )
    server_name = django_filters.CharFilter(field_name="server_name", lookup_expr="icontains", label="Server name")

    class Meta:
        model = MigrationServerIdLog
        fields = ["bar", "fallback_used", "reason", "source", "created", "server_name"]

    def filter_reason(self, queryset, name, value):
        if value == FAILED:
            return queryset.filter(fallback_reason__startswith=FAILED_PREFIX)
        return queryset.filter(fallback_reason=value)

    def filter_source(self, queryset, name, value):
        return queryset.filter(**{f"{value}_id__isnull": False})


class AuditLogFilter(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=AuditLog.Level.choices)
    error_type = django_filters.CharFilter(field_name="error_type", label="Error type")
    bar = django_filters.UUIDFilter(field_name="bar_id", label="Bar id")
    q = django_filters.CharFilter(field_name="error_message", lookup_expr="icontains", label="Message contains")
    window = django_filters.ChoiceFilter(choices=WINDOW_CHOICES, method="filter_window", label="Time window")
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at",
        label="Between",
        widget=django_filters.widgets.DateRangeWidget(attrs=DATE_INPUT),
    )

    class Meta:
        model = AuditLog
        fields = ["level", "error_type", "bar", "q", "window", "created"]

    def filter_window(self, queryset, name, value):
        return queryset.filter(created_at__gte=timezone.now() - WINDOWS[value])
