"""Forms of the mappings pages; the rules themselves live in the model and the services."""

from django import forms

from adminpanel.models import User
from mappings.models import ServerNameMapping
from mappings.models.mapping import NOT_ELIGIBLE_MESSAGE, eligible_members
from mappings.names import normalize_server_name, server_name_problem

SERVER_NAME_MAX_LENGTH = ServerNameMapping._meta.get_field("server_name").max_length


class MappingForm(forms.Form):
    """A name and the member it means: the members offered are the bar's eligible ones (active servers and
    managers with an active account), so an id from another bar or a made-up one is refused here."""

    server_name = forms.CharField(max_length=SERVER_NAME_MAX_LENGTH, required=False)
    user = forms.ModelChoiceField(
        queryset=User.objects.none(),
        error_messages={"required": "Choose the member this name means.", "invalid_choice": NOT_ELIGIBLE_MESSAGE},
    )

    def __init__(self, *args, bar, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.filter(pk__in=eligible_members(bar.pk).values("user_id")).order_by(
            "display_name", "username"
        )

    def clean_server_name(self):
        name = self.cleaned_data.get("server_name") or ""
        problem = server_name_problem(normalize_server_name(name))
        if problem:
            raise forms.ValidationError(problem)
        return name


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file (server_name,username)")
