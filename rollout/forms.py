"""Input of the rollout page: every write carries a reason; advancing carries the version the user saw."""

import django_filters
from django import forms
from django.db.models import Q
from django.utils import timezone

from adminpanel.models import User
from adminpanel.pickers import NameProblem, resolve_bar
from adminpanel.roles import PRODUCT
from rollout.models import DeploymentRecord, EventKind, FeatureFlag, FlagState, RolloutEvent
from rollout.records import facts

REASON = forms.CharField(
    max_length=2000, strip=True, widget=forms.TextInput(attrs={"placeholder": "Why (required, kept in the history)"})
)


CONFIRM_TOKEN = forms.CharField(required=False, max_length=1000, widget=forms.HiddenInput)


class FlipFlagForm(forms.Form):
    state = forms.ChoiceField(choices=FlagState.choices)
    reason = REASON
    confirm_token = CONFIRM_TOKEN


class AllowListForm(forms.Form):
    """A bar picked by name (the shared picker: a name, a picker label or a pasted id; an ambiguous name is an
    error listing the candidates) among the bars the requester may see."""

    bar = forms.CharField(label="Bar", max_length=300, strip=True)
    action = forms.ChoiceField(choices=[("add", "Add"), ("remove", "Remove")])
    reason = REASON

    def __init__(self, *args, requester=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.requester = requester

    def clean_bar(self):
        try:
            return resolve_bar(self.requester, self.cleaned_data["bar"])
        except NameProblem as problem:
            raise forms.ValidationError(str(problem)) from problem


class AdvanceForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    batch_size = forms.IntegerField(
        required=False, min_value=1, max_value=1_000_000, label="Batch size (bars; empty = the whole stage)"
    )
    override_reason = forms.CharField(
        required=False, max_length=2000, strip=True, label="Override closed gates because (needs override_gate)"
    )
    confirm_token = CONFIRM_TOKEN


class AutopilotForm(forms.Form):
    batch_size = forms.IntegerField(
        required=False, min_value=1, max_value=1_000_000, label="Batch size (bars per step; empty = a whole stage)"
    )
    reason = REASON
    confirm = forms.BooleanField(
        label="Yes: let the autopilot advance the rollout by itself, up to 4c, whenever every gate passes.",
        error_messages={"required": "Tick the confirmation to turn the autopilot on."},
    )


class ReasonForm(forms.Form):
    reason = REASON


class StageRollbackForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    reason = REASON


class KillSwitchForm(forms.Form):
    reason = REASON
    confirm = forms.BooleanField(
        label="Yes: turn both flags off for every bar now (allow-lists and data are kept).",
        error_messages={"required": "Tick the confirmation to engage the kill switch."},
    )
    confirm_token = CONFIRM_TOKEN


class ReleaseKillSwitchForm(forms.Form):
    reason = REASON
    confirm = forms.BooleanField(
        label="Yes: turn both flags back on for their allow-listed bars now.",
        error_messages={"required": "Tick the confirmation to release the kill switch."},
    )
    confirm_token = CONFIRM_TOKEN


class RunStepForm(forms.Form):
    """Asking the panel to run a runbook step: the confirmation of a risky one, and the step's own inputs."""

    confirm = forms.BooleanField(required=False)
    rate = forms.IntegerField(required=False, min_value=1, max_value=1000, label="Sales per second")
    seconds = forms.IntegerField(required=False, min_value=1, max_value=86_400, label="Seconds")
    build_hash = forms.CharField(required=False, max_length=100, strip=True, label="Build hash you deployed")


class WaiveForm(forms.Form):
    reason = REASON


class CiRunForm(forms.Form):
    url = forms.URLField(max_length=500, label="CI run link", assume_scheme="https")
    result = forms.ChoiceField(choices=[("passed", "Passed"), ("failed", "Failed")], label="Result")
    note = forms.CharField(required=False, max_length=2000, strip=True, label="Note")


class CockpitAdvanceForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    confirm = forms.BooleanField(error_messages={"required": "Tick the confirmation to start the stage."})
    override_reason = forms.CharField(required=False, max_length=2000, strip=True)
    confirm_token = CONFIRM_TOKEN


class TimelineFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=EventKind.choices, empty_label="any kind")
    actor = django_filters.CharFilter(field_name="actor_name", lookup_expr="icontains", label="Who")
    flag = django_filters.ModelChoiceFilter(
        queryset=FeatureFlag.objects.all(), to_field_name="key", empty_label="any flag"
    )
    overrides = django_filters.BooleanFilter(field_name="is_override", label="Overrides only", method="only_overrides")
    since = django_filters.DateFilter(field_name="created_at", lookup_expr="date__gte", label="From")
    until = django_filters.DateFilter(field_name="created_at", lookup_expr="date__lte", label="To")

    class Meta:
        model = RolloutEvent
        fields = ["kind", "actor", "flag", "overrides", "since", "until"]

    def only_overrides(self, queryset, name, value):
        return queryset.filter(is_override=True) if value else queryset


def record_people():
    """Who may be deployer or reviewer: product owners and superusers (a bounded list, never every user)."""
    return User.objects.filter(Q(groups__name=PRODUCT) | Q(is_superuser=True), is_active=True).distinct()


class DeploymentRecordForm(forms.ModelForm):
    """What a person writes on the record; the checklist (backup, tests, flags off, build) fills itself from the
    cockpit and is not in this form: a flags-off "yes" is a fact read at a moment, never a box ticked."""

    class Meta:
        model = DeploymentRecord
        fields = ["date", "deployer", "reviewer", "started_at", "ended_at", "issues_encountered", "status"]
        labels = {
            "started_at": "Deployment started (empty: the first Phase 1 step; the timeline starts here)",
            "ended_at": "Deployment ended",
        }
        widgets = {
            "date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "started_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "ended_at": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "issues_encountered": forms.Textarea(attrs={"rows": 4}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deployer"].queryset = record_people()
        self.fields["reviewer"].queryset = record_people()
        self.fields["started_at"].required = False

    def clean(self):
        cleaned = super().clean()
        deployer, reviewer = cleaned.get("deployer"), cleaned.get("reviewer")
        if deployer and reviewer and deployer == reviewer:
            self.add_error("reviewer", "The deployer and the reviewer must be two different people.")
        if "started_at" in cleaned and not cleaned["started_at"]:
            cleaned["started_at"] = facts.deployment_start() or timezone.now()
        return cleaned


class ChecklistAttestForm(forms.Form):
    # Plain text: the service says what is wrong with a link in words a person reads (rollout/runbook/attestations.py).
    item = forms.CharField(max_length=64)
    url = forms.CharField(required=False, max_length=500, strip=True, label="Link")
    note = forms.CharField(required=False, max_length=2000, strip=True, label="Note")


class DecisionForm(forms.Form):
    decision = forms.CharField(max_length=16, error_messages={"required": "choose one and say why."})
    reason = forms.CharField(required=False, max_length=2000, strip=True, label="Why")
