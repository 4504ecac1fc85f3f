"""What the log lists' filters share (issue 14): a bar filter that takes a NAME (or an id) through the picker,
date ranges whose two boxes are each labelled, and a filter set that shows nothing rather than something wrong
when a filter cannot be understood (an ambiguous bar name lists its candidates beside the field)."""

import django_filters
from django_filters.widgets import DateRangeWidget

from adminpanel.bad_input import BadInput
from adminpanel.models import Bar
from adminpanel.pickers import PickerField, bar_label


class BarPickFilter(django_filters.Filter):
    """Filter on a bar picked by name, picker label or id (only bars the requester may see resolve)."""

    field_class = PickerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("kind", "bars")
        kwargs.setdefault("label", "Bar")
        super().__init__(*args, **kwargs)


class LabelledDateRange(DateRangeWidget):
    """The two date boxes of a range, each with its own accessible name ("… from", "… to")."""

    def __init__(self, label: str, attrs=None):
        super().__init__(attrs={"type": "date", **(attrs or {})})
        self.label = label

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        for widget, end in zip(context["widget"]["subwidgets"], ("from", "to"), strict=False):
            widget["attrs"]["aria-label"] = f"{self.label} {end} (date)"
        return context


class NamedFilterSet(django_filters.FilterSet):
    """A filter set whose picker fields resolve names as the requester (``request`` must be passed); when any
    filter is invalid it returns no rows (the form shows why) instead of ignoring that filter."""

    def __init__(self, data=None, queryset=None, *, request=None, prefix=None):
        super().__init__(data, queryset, request=request, prefix=prefix)
        for field in self.form.fields.values():
            if isinstance(field, PickerField):
                field.requester = getattr(request, "user", None)

    def filter_queryset(self, queryset):
        if self.form.errors:
            return queryset.none()
        queryset = super().filter_queryset(queryset)
        self._show_picked_names()
        return queryset

    def _show_picked_names(self):
        """A bar given by id (a link from a row) shows its name in the box, with the id hint only when another
        bar shares the name."""
        data = None
        for name, field in self.form.fields.items():
            value = self.form.cleaned_data.get(name)
            if isinstance(field, PickerField) and isinstance(value, Bar):
                shared = Bar.objects.filter(name=value.name).exclude(pk=value.pk).exists()
                data = data or self.form.data.copy()
                data[self.form.add_prefix(name)] = bar_label(value, ambiguous=shared)
        if data is not None:
            self.form.data = data


def valid_or_bad_input(filterset):
    """The filter set, or `BadInput` (a 400 with the reason) when a filter cannot be understood: an export never
    silently drops a filter."""
    if filterset.form.errors:
        reasons = [
            f"{filterset.form.fields[name].label if name in filterset.form.fields else name}: {' '.join(errors)}"
            for name, errors in filterset.form.errors.items()
        ]
        raise BadInput("The export cannot be filtered as asked. " + " ".join(reasons))
    return filterset
