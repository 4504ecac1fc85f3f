"""Forms of the backfill page: they parse and check what a product owner submits."""

from django import forms
from django.conf import settings

from adminpanel.pickers import PickerField

MAX_BATCH_SIZE = 100_000


class BackfillStartForm(forms.Form):
    """Start a run: every bar or one bar (picked by name), a batch size, optionally a dry run. A real run over
    every bar needs ``confirmed`` (the page first shows how many rows it fills)."""

    bar = PickerField("bars", required=False, label="Bar (empty: every bar)")
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
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)
    # The row counts the confirmation page showed and its token, bound to them and to the user (used once).
    shown = forms.CharField(required=False, max_length=500, widget=forms.HiddenInput)
    confirm_token = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)

    def __init__(self, *args, requester=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["bar"].requester = requester

    def clean_batch_size(self) -> int:
        return self.cleaned_data["batch_size"] or settings.BACKFILL_BATCH_SIZE

    @property
    def needs_confirmation(self) -> bool:
        """A real run over every bar: the widest write of the runbook, confirmed once with its row count (the
        view checks the confirmation's token: adminpanel.confirmations)."""
        data = self.cleaned_data
        return data.get("bar") is None and not data.get("dry_run")
