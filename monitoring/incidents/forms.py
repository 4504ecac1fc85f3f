"""Input of the incident pages: opening, updates, sending the template, and the root-cause window."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone

from monitoring.incidents import selectors as incident_selectors
from monitoring.models import ContactTier, IncidentStatus, Severity

NEXT_UPDATE_CHOICES = [
    ("15", "In 15 minutes"),
    ("30", "In 30 minutes"),
    ("60", "In 1 hour"),
    ("120", "In 2 hours"),
    ("240", "In 4 hours"),
    ("", "Upon resolution"),
]
OWNER_PICKER = {"list": "incident-owners", "autocomplete": "off", "placeholder": "Type a name"}


class OwnerField(forms.CharField):
    """A person picked by username (the page offers the names as you type); only incident handlers qualify."""

    def clean(self, value):
        username = super().clean(value)
        if not username:
            return None
        user = incident_selectors.incident_handler_named(username)
        if user is None:
            raise forms.ValidationError(f"Nobody called {username!r} handles incidents (support, product, admins).")
        return user


class NextUpdateMixin:
    def next_update_at(self):
        minutes = self.cleaned_data.get("next_update_in")
        return timezone.now() + timedelta(minutes=int(minutes)) if minutes else None


class OpenIncidentForm(NextUpdateMixin, forms.Form):
    severity = forms.ChoiceField(choices=Severity.choices, initial=Severity.HIGH)
    issue = forms.CharField(
        max_length=4000, label="Issue (brief description)", widget=forms.Textarea(attrs={"rows": 3})
    )
    started_at = forms.DateTimeField(
        required=False,
        label=f"Started at ({settings.TIME_ZONE}; empty = now)",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )
    owner = OwnerField(
        required=False, max_length=150, label="Owner (empty = you)", widget=forms.TextInput(OWNER_PICKER)
    )
    next_update_in = forms.ChoiceField(choices=NEXT_UPDATE_CHOICES, required=False, initial="30", label="Next update")

    def clean_started_at(self):
        started = self.cleaned_data.get("started_at")
        if started and started < timezone.now() - timedelta(days=30):
            raise forms.ValidationError("The start is more than 30 days ago; check the date.")
        return started


class IncidentUpdateForm(NextUpdateMixin, forms.Form):
    status = forms.ChoiceField(choices=IncidentStatus.choices)
    severity = forms.ChoiceField(choices=Severity.choices)
    message = forms.CharField(
        max_length=4000, label="What happened, what was done", widget=forms.Textarea(attrs={"rows": 3})
    )
    next_update_in = forms.ChoiceField(choices=NEXT_UPDATE_CHOICES, required=False, initial="30", label="Next update")
    owner = OwnerField(
        required=False,
        max_length=150,
        label="Hand over to (empty = keep the owner)",
        widget=forms.TextInput(OWNER_PICKER),
    )


class SendCommunicationForm(forms.Form):
    tier = forms.ModelChoiceField(
        queryset=ContactTier.objects.order_by("position"),
        empty_label=None,
        label="Send to",
        error_messages={"invalid_choice": "Choose a tier of the contact chain."},
    )
