"""The audit-log list's filters (django-filter), used by the page and its CSV export."""

from datetime import timedelta

import django_filters
from django.utils import timezone

from adminpanel.log_filters import BarPickFilter, LabelledDateRange, NamedFilterSet
from adminpanel.models import AuditLog

WINDOW_CHOICES = [("5m", "Last 5 minutes"), ("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")]
WINDOWS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


class AuditLogFilter(NamedFilterSet):
    level = django_filters.ChoiceFilter(choices=AuditLog.Level.choices, label="Level")
    error_type = django_filters.CharFilter(field_name="error_type", label="Error type")
    bar = BarPickFilter(field_name="bar", label="Bar (name or id)")
    q = django_filters.CharFilter(field_name="error_message", lookup_expr="icontains", label="Message contains")
    window = django_filters.ChoiceFilter(choices=WINDOW_CHOICES, method="filter_window", label="Time window")
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at",
        label="Between",
        widget=LabelledDateRange("Logged"),
    )

    class Meta:
        model = AuditLog
        fields = ["level", "error_type", "bar", "q", "window", "created"]

    def filter_window(self, queryset, name, value):
        return queryset.filter(created_at__gte=timezone.now() - WINDOWS[value])
