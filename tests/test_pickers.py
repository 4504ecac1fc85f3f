"""The search-as-you-type pickers and the name resolvers (adminpanel.pickers, issue 14)."""

import pytest
from django.forms import Form

from adminpanel.models import MemberRole
from adminpanel.pickers import (
    PICK_LIMIT,
    NameProblem,
    PickerField,
    bar_label,
    resolve_bar,
    resolve_user,
    search_bars,
    search_users,
)
from tests.factories import BarFactory, ServerFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(bar, other_bar):
    """Two members of the manager's bar, one of another bar."""
    zoe = ServerFactory(username="zoe", display_name="Zoé Kouassi")
    awa = ServerFactory(username="awa", display_name="Awa Diallo")
    far = ServerFactory(username="far", display_name="Fatou Far")
    member(bar, zoe)
    member(bar, awa)
    member(other_bar, far)
    return {"zoe": zoe, "awa": awa, "far": far}


def options(response) -> list[str]:
    import re

    return re.findall(r'<option value="([^"]*)"></option>', response.content.decode())


def test_a_manager_finds_only_their_own_bars(client_for, manager, bar, other_bar):
    client = client_for(manager)
    assert options(client.get("/pick/bars/", {"q": ""})) == [bar.name]
    assert options(client.get("/pick/bars/", {"q": "fatou"})) == []


def test_a_manager_finds_only_members_of_their_bars(client_for, manager, staff):
    client = client_for(manager)
    found = options(client.get("/pick/users/", {"q": "a"}))
    assert "Awa Diallo (awa)" in found
    assert "Fatou Far (far)" not in found
    assert options(client.get("/pick/users/", {"q": "fatou"})) == []


def test_a_manager_cannot_list_the_members_of_another_bar(client_for, manager, other_bar, staff):
    response = client_for(manager).get("/pick/users/", {"q": "", "bar": str(other_bar.pk)})
    assert response.status_code == 404


@pytest.mark.parametrize("role", ["support_user", "product_user", "superuser"])
def test_support_product_and_superusers_find_every_bar_and_user(request, client_for, role, bar, other_bar, staff):
    client = client_for(request.getfixturevalue(role))
    assert set(options(client.get("/pick/bars/", {"q": ""}))) >= {bar.name, other_bar.name}
    assert "Fatou Far (far)" in options(client.get("/pick/users/", {"q": "fatou"}))


def test_someone_with_no_role_finds_nothing(client_for, plain_user, bar, staff):
    client = client_for(plain_user)
    assert options(client.get("/pick/bars/", {"q": ""})) == []
    assert options(client.get("/pick/users/", {"q": ""})) == []


def test_accents_and_case_are_ignored_when_searching(support_user, staff, db):
    BarFactory(name="Café Étoile")
    assert [label for _, label in search_bars(support_user, "cafe etoile")[0]] == ["Café Étoile"]
    assert [label for _, label in search_bars(support_user, "ÉTOILE")[0]] == ["Café Étoile"]
    assert [label for _, label in search_users(support_user, "zoe")[0]] == ["Zoé Kouassi (zoe)"]


def test_results_are_limited_and_say_more_match(client_for, support_user, db):
    for n in range(PICK_LIMIT + 3):
        BarFactory(name=f"Maquis {n:02d}")
    response = client_for(support_user).get("/pick/bars/", {"q": "maquis"})
    assert len(options(response)) == PICK_LIMIT
    assert "type more of the name" in response.content.decode()
    found, more = search_bars(support_user, "maquis", limit=5)
    assert len(found) == 5 and more


def test_the_picker_field_reads_the_value_under_its_own_name(client_for, support_user, bar):
    """htmx sends the input's value under the input's name; ``field`` says which name that is."""
    response = client_for(support_user).get("/pick/bars/", {"field": "bar", "bar": "baobab"})
    assert options(response) == [bar.name]


def test_two_bars_of_one_name_carry_their_id_in_the_label(support_user, db):
    one, two = BarFactory(name="Test Bar 1"), BarFactory(name="Test Bar 1")
    labels = sorted(label for _, label in search_bars(support_user, "test bar 1")[0])
    assert labels == sorted([bar_label(one, ambiguous=True), bar_label(two, ambiguous=True)])
    assert resolve_bar(support_user, bar_label(two, ambiguous=True)) == two


def test_an_ambiguous_bar_name_is_an_error_listing_the_candidates(support_user, db):
    one, two = BarFactory(name="Test Bar 1", settings={"city": "Abidjan"}), BarFactory(name="Test Bar 1")
    with pytest.raises(NameProblem) as problem:
        resolve_bar(support_user, "test bar 1")
    message = str(problem.value)
    assert "2 bars are called" in message
    assert f"id {str(one.pk)[:8]}, Abidjan" in message and f"id {str(two.pk)[:8]}" in message
    assert set(problem.value.candidates) == {one, two}


def test_a_bar_resolves_by_name_without_accents_or_by_id(support_user, db):
    cafe = BarFactory(name="Café Étoile")
    assert resolve_bar(support_user, "  café étoile ") == cafe
    assert resolve_bar(support_user, "cafe etoile") == cafe
    assert resolve_bar(support_user, str(cafe.pk)) == cafe
    assert resolve_bar(support_user, "") is None


def test_an_unknown_bar_name_suggests_near_ones(support_user, db):
    BarFactory(name="Test Bar 1")
    with pytest.raises(NameProblem, match="No bar you may see is called “Test Bar”. Did you mean: Test Bar 1"):
        resolve_bar(support_user, "Test Bar")


def test_a_manager_cannot_resolve_another_bar_by_name_or_id(manager, other_bar):
    with pytest.raises(NameProblem):
        resolve_bar(manager, other_bar.name)
    with pytest.raises(NameProblem):
        resolve_bar(manager, str(other_bar.pk))


def test_a_user_resolves_by_display_name_username_label_or_id(manager, bar, staff):
    zoe = staff["zoe"]
    for text in ("Zoé Kouassi", "zoe kouassi", "zoe", "Zoé Kouassi (zoe)", str(zoe.pk)):
        assert resolve_user(manager, text, bar=bar) == zoe, text


def test_a_shared_display_name_is_an_error_naming_both_logins(manager, bar, staff):
    twin = ServerFactory(username="awa2", display_name="Awa Diallo")
    member(bar, twin)
    with pytest.raises(NameProblem) as problem:
        resolve_user(manager, "Awa Diallo", bar=bar)
    assert "Awa Diallo (awa)" in str(problem.value) and "Awa Diallo (awa2)" in str(problem.value)
    assert resolve_user(manager, "Awa Diallo (awa2)", bar=bar) == twin


def test_a_manager_cannot_resolve_a_member_of_another_bar(manager, bar, staff):
    with pytest.raises(NameProblem, match="No user among the members of"):
        resolve_user(manager, "Fatou Far", bar=bar)
    with pytest.raises(NameProblem):
        resolve_user(manager, "far")


def test_roles_and_active_only_narrow_the_members(manager, bar, staff):
    owner = ServerFactory(username="own", display_name="Owner Person")
    member(bar, owner, role=MemberRole.OWNER)
    gone = ServerFactory(username="gone", display_name="Gone Person")
    member(bar, gone, is_active=False)
    with pytest.raises(NameProblem):
        resolve_user(manager, "Owner Person", bar=bar, roles=["server", "manager"])
    with pytest.raises(NameProblem):
        resolve_user(manager, "Gone Person", bar=bar, active_only=True)
    assert resolve_user(manager, "Gone Person", bar=bar) == gone


def test_without_javascript_the_form_field_accepts_a_typed_name(manager, bar, staff):
    class PickForm(Form):
        server = PickerField("users", bar=bar, roles=["server", "manager"], active_only=True)

    form = PickForm(data={"server": "Zoé Kouassi"})
    form.fields["server"].requester = manager
    assert form.is_valid(), form.errors
    assert form.cleaned_data["server"] == staff["zoe"]

    form = PickForm(data={"server": "Fatou Far"})
    form.fields["server"].requester = manager
    assert not form.is_valid()
    assert "No user among the members of" in form.errors["server"][0]
    html = str(form["server"])
    assert 'list="id_server-options"' in html and 'hx-get="/pick/users/?field=server' in html
    assert '<datalist id="id_server-options"></datalist>' in html
