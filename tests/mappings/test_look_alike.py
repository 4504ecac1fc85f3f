"""Look-alike names (issue 10): invisible characters are removed by normalisation, and a name that reads like
another mapping of the bar (same confusable skeleton) is refused with a message naming that mapping, whether it
comes through the service, the page's form, the Django admin or a CSV import."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from adminpanel.models import PanelEvent
from mappings import services
from mappings.models import ServerNameMapping
from mappings.names import display_server_name, name_skeleton, normalize_server_name
from mappings.resolve import resolve_server_name

CYRILLIC_I = "\u0456"
CYRILLIC_A = "\u0430"


@pytest.mark.parametrize(
    "typed",
    [
        "Ma\u200brie",  # zero-width space
        "Ma\u200drie",  # zero-width joiner
        "Ma\u00adrie",  # soft hyphen
        "\u2066Marie\u2069",  # bidi isolate
        "Mar\u200eie",  # left-to-right mark
        "\ufeffMarie",  # byte order mark
        "Mari\u034fe",  # combining grapheme joiner
    ],
)
def test_invisible_and_bidi_control_characters_are_removed(typed):
    assert normalize_server_name(typed) == "marie"
    assert display_server_name(typed) == "Marie"


def test_a_right_to_left_override_is_removed_so_the_name_shows_as_it_is_stored():
    assert normalize_server_name("\u202eeiraM") == "eiram"
    assert display_server_name("\u202eeiraM") == "eiraM"


@pytest.mark.parametrize(
    ("one", "other"),
    [("Marie", f"Mar{CYRILLIC_I}e"), ("Marie", f"M{CYRILLIC_A}rie"), ("Okou", "\u039fkou"), ("paul", "pau1")],
)
def test_names_that_read_the_same_share_a_skeleton(one, other):
    assert normalize_server_name(one) != normalize_server_name(other)
    assert name_skeleton(normalize_server_name(one)) == name_skeleton(normalize_server_name(other))


@pytest.mark.parametrize(("one", "other"), [("José", "Jose"), ("Aïcha", "Aicha"), ("Zoé", "Zoe"), ("Awa", "Ama")])
def test_names_that_read_differently_do_not(one, other):
    assert name_skeleton(normalize_server_name(one)) != name_skeleton(normalize_server_name(other))


@pytest.fixture
def marie(bar, server, manager):
    return services.create_mapping(bar=bar, server_name="Marie", user=server, actor=manager)


def test_an_invisible_character_does_not_make_a_second_mapping(bar, marie, other_server, manager):
    with pytest.raises(ValidationError) as refused:
        services.create_mapping(bar=bar, server_name="Ma\u200brie", user=other_server, actor=manager)
    assert "already maps that name" in str(refused.value)
    assert resolve_server_name(bar=bar, name="Ma\u200brie") == marie.user


def test_a_look_alike_of_a_mapping_is_refused_naming_it_and_nothing_is_written(bar, marie, other_server, manager):
    events = PanelEvent.objects.count()
    with pytest.raises(ValidationError) as refused:
        services.create_mapping(bar=bar, server_name=f"Mar{CYRILLIC_I}e", user=other_server, actor=manager)
    message = refused.value.message_dict["server_name"][0]
    assert message.startswith(f"“Mar{CYRILLIC_I}e” looks like “Marie”, which this bar already maps to aicha")
    assert ServerNameMapping.objects.filter(bar=bar).count() == 1 and PanelEvent.objects.count() == events


def test_renaming_a_mapping_into_a_look_alike_of_another_is_refused(bar, marie, other_server, manager):
    paul = services.create_mapping(bar=bar, server_name="Paul", user=other_server, actor=manager)
    with pytest.raises(ValidationError, match="looks like “Marie”"):
        services.update_mapping(mapping=paul, server_name=f"M{CYRILLIC_A}rie", user=other_server, actor=manager)
    paul.refresh_from_db()
    assert paul.server_name == "Paul"
    # A mapping may be respelled in a way that reads like itself.
    services.update_mapping(mapping=marie, server_name="MARIE", user=marie.user, actor=manager)


def test_the_same_look_alike_in_another_bar_is_fine(other_bar, other_bar_server, other_manager, marie):
    services.create_mapping(bar=other_bar, server_name=f"Mar{CYRILLIC_I}e", user=other_bar_server, actor=other_manager)


def test_the_page_form_shows_the_refusal_beside_the_name(bar, marie, other_server, manager, client_for):
    response = client_for(manager).post(
        reverse("mappings:mapping_create", args=[bar.pk]),
        {"server_name": f"Mar{CYRILLIC_I}e", "user": str(other_server.pk)},
    )
    assert response.status_code == 200
    assert "looks like “Marie”, which this bar already maps to aicha" in response.content.decode()
    assert ServerNameMapping.objects.filter(bar=bar).count() == 1


def test_the_django_admin_refuses_it_too(bar, marie, other_server, superuser, client_for):
    response = client_for(superuser).post(
        reverse("admin:mappings_servernamemapping_add"),
        {"bar": str(bar.pk), "server_name": f"Mar{CYRILLIC_I}e", "user": str(other_server.pk)},
    )
    assert response.status_code == 200
    assert "looks like “Marie”" in response.content.decode()


def test_a_csv_import_refuses_look_alikes_of_mappings_and_of_its_own_lines(bar, marie, other_server, manager):
    text = f"server_name,username\nMar{CYRILLIC_I}e,moussa\nPaul,moussa\nPau1,moussa\nMarie,aicha\n"
    plan, pending = services.preview_import(bar=bar, actor=manager, filename="m.csv", data=text.encode())
    assert pending is None
    reasons = {error.line: error.reason for error in plan.errors}
    assert reasons[2].startswith(f"“Mar{CYRILLIC_I}e” looks like “Marie”, which this bar already maps to aicha")
    assert reasons[4].startswith("“Pau1” looks like “Paul” on line 3")
    assert set(reasons) == {2, 4}  # "Marie" itself is the existing mapping, unchanged
