"""The audit-log list's filters (django-filter), used by the page and its CSV export."""

from datetime import timedelta

import django_filters
from django.utils import timezone

from adminpanel.models import AuditLog

WINDOW_CHOICES = [("5m", "Last 5 minutes"), ("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")]
WINDOWS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}
DATE_INPUT = {"type": "date"}


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
