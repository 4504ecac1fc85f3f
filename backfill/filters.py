"""The migration-log list's filters (django-filter), used by the page and its CSV export."""

import django_filters
from django import forms

from adminpanel.log_filters import BarPickFilter, LabelledDateRange, NamedFilterSet
from adminpanel.models import MigrationServerIdLog
from backfill.sources import FAILED_PREFIX, FALLBACK_REASON_LABELS, FALLBACK_REASONS

FAILED = "failed"
REASON_CHOICES = [(reason, f"{reason} — {FALLBACK_REASON_LABELS[reason]}") for reason in FALLBACK_REASONS] + [
    (FAILED, "failed: … — the row could not be written")
]
SOURCE_CHOICES = [("sale", "Sales"), ("consignment", "Consignments"), ("return", "Returns")]


class MigrationLogFilter(NamedFilterSet):
    bar = BarPickFilter(field_name="bar", label="Bar (name or id)")
    fallback_used = django_filters.BooleanFilter(
        label="Fallback used", widget=forms.Select(choices=[("", "Any"), ("true", "Yes"), ("false", "No")])
    )
    reason = django_filters.ChoiceFilter(
        choices=REASON_CHOICES, method="filter_reason", label="Reason", empty_label="Any reason"
    )
    source = django_filters.ChoiceFilter(
        choices=SOURCE_CHOICES, method="filter_source", label="Source", empty_label="Any source"
    )
    created = django_filters.DateFromToRangeFilter(
        field_name="created_at",
        label="Logged between",
        widget=LabelledDateRange("Logged"),
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
