"""The audit-log list's filters (django-filter), used by the page and its CSV export."""

from datetime import timedelta

import django_filters
from django.conf import settings
from django.db.models import Q
from django.forms import DateTimeInput, Select
from django.utils import timezone

from adminpanel.log_filters import BarPickFilter, LabelledDateRange, NamedFilterSet
from adminpanel.models import AuditLog


def server_id_error_q() -> Q:
    """``monitoring.health.health_checks.SERVER_ID_ERRORS`` as a query: error level, message mentions server_id or
    serverId."""
    return Q(level=AuditLog.Level.ERROR, error_message__iregex=r"server_?id")


WINDOW_CHOICES = [("5m", "Last 5 minutes"), ("1h", "Last hour"), ("24h", "Last 24 hours"), ("7d", "Last 7 days")]
WINDOWS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


class AuditLogFilter(NamedFilterSet):
    level = django_filters.ChoiceFilter(choices=AuditLog.Level.choices, label="Level", empty_label="Any level")
    error_type = django_filters.CharFilter(field_name="error_type", label="Error type")
    bar = BarPickFilter(field_name="bar", label="Bar (name or id)")
    q = django_filters.CharFilter(field_name="error_message", lookup_expr="icontains", label="Message contains")
    window = django_filters.ChoiceFilter(
        choices=WINDOW_CHOICES, method="filter_window", label="Time window", empty_label="Any time"
    )
    since = django_filters.DateTimeFilter(
        field_name="created_at",
        lookup_expr="gte",
        label=f"Logged since ({settings.TIME_ZONE})",
        widget=DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    server_id_errors = django_filters.BooleanFilter(
        method="filter_server_id_errors",
        label="server_id errors only",
        widget=Select(choices=[("", "Any row"), ("true", "Only server_id errors (as the chart counts)")]),
    )
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at",
        label="Between",
        widget=LabelledDateRange("Logged"),
    )

    class Meta:
        model = AuditLog
        fields = ["level", "error_type", "bar", "q", "window", "since", "server_id_errors", "created"]

    def filter_server_id_errors(self, queryset, name, value):
        """The rows the chart, the error patterns and the health check count (``SERVER_ID_ERRORS``)."""
        if not value:
            return queryset
        return queryset.filter(server_id_error_q())

    def filter_window(self, queryset, name, value):
        return queryset.filter(created_at__gte=timezone.now() - WINDOWS[value])
