"""Forms of the mappings pages; the rules themselves live in the model and the services."""

import uuid

from django import forms

from adminpanel.models import User
from mappings.models.mapping import NOT_ELIGIBLE_MESSAGE
from mappings.resolve import normalize_server_name, server_name_problem


class MappingForm(forms.Form):
    """A name and the member it means. Which members qualify is the model's rule (its message is clearer than
    "select a valid choice"), so the user field only turns an id into a user here."""

    server_name = forms.CharField(max_length=1000, required=False)
    user = forms.CharField(required=False)

    def clean_server_name(self):
        name = self.cleaned_data.get("server_name") or ""
        problem = server_name_problem(normalize_server_name(name))
        if problem:
            raise forms.ValidationError(problem)
        return name

    def clean_user(self):
        raw = self.cleaned_data.get("user") or ""
        if not raw:
            raise forms.ValidationError("Choose the member this name means.")
        try:
            user_id = uuid.UUID(raw)
        except ValueError:
            raise forms.ValidationError("Choose the member this name means.") from None
        user = User.objects.filter(pk=user_id).first()
        if user is None:
            raise forms.ValidationError(NOT_ELIGIBLE_MESSAGE)
        return user


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file (server_name,username)")
