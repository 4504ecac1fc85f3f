"""Forms of the backfill page: they parse and check what a product owner submits."""

from django import forms
from django.conf import settings

from adminpanel.models import Bar

MAX_BATCH_SIZE = 100_000


class BackfillStartForm(forms.Form):
    """Start a run: every bar or one bar, a batch size, optionally a dry run."""

    bar = forms.ModelChoiceField(
        queryset=Bar.objects.all(),
        required=False,
        empty_label="Every bar",
        error_messages={"invalid_choice": "No such bar: pick one from the list, or leave it empty for every bar."},
    )
    batch_size = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_BATCH_SIZE,
        error_messages={
            "min_value": f"The batch size must be between 1 and {MAX_BATCH_SIZE}.",
            "max_value": f"The batch size must be between 1 and {MAX_BATCH_SIZE}.",
            "invalid": f"The batch size must be between 1 and {MAX_BATCH_SIZE}.",
        },
    )
    dry_run = forms.BooleanField(required=False, label="Dry run (resolve and count, write nothing)")

    def clean_batch_size(self) -> int:
        return self.cleaned_data["batch_size"] or settings.BACKFILL_BATCH_SIZE
