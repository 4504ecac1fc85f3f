"""Forms of the mappings pages; the rules themselves live in the model and the services."""

import uuid

from django import forms

from adminpanel.models import AuthUser
from mappings.models import ServerNameMapping
from mappings.models.mapping import NOT_ELIGIBLE_MESSAGE, eligible_members
from mappings.names import normalize_server_name, server_name_problem
from mappings.services import MemberFinder

SERVER_NAME_MAX_LENGTH = ServerNameMapping._meta.get_field("server_name").max_length


class MappingForm(forms.Form):
    """A name and the member it means: the members offered are the bar's eligible ones (active servers and
    managers with an active account), so an id from another bar or a made-up one is refused here."""

    server_name = forms.CharField(max_length=SERVER_NAME_MAX_LENGTH, required=False)
    # The member: an id from the select (a bar with few members) or what was typed in the picker (a name, a
    # login, "Name (login)"), resolved among the bar's eligible members only.
    user = forms.CharField(max_length=300, error_messages={"required": "Choose the member this name means."})

    def __init__(self, *args, bar, requester=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.bar = bar
        self.requester = requester

    def clean_user(self):
        text = self.cleaned_data.get("user") or ""
        eligible = AuthUser.objects.filter(pk__in=eligible_members(self.bar.pk).values("user_id"))
        as_id = _as_uuid(text)
        if as_id is not None:
            user = eligible.filter(pk=as_id).first()
            if user is None:
                raise forms.ValidationError(NOT_ELIGIBLE_MESSAGE)
            return user
        user, problem = MemberFinder(eligible).find(text)
        if user is not None:
            return user
        raise forms.ValidationError(problem or f"No active server or manager of this bar is called “{text}”.")

    def clean_server_name(self):
        name = self.cleaned_data.get("server_name") or ""
        problem = server_name_problem(normalize_server_name(name))
        if problem:
            raise forms.ValidationError(problem)
        return name


class ImportForm(forms.Form):
    file = forms.FileField(label="CSV file (server name, then the member's login or display name)")


def _as_uuid(text: str):
    try:
        return uuid.UUID(text.strip())
    except ValueError:
        return None
