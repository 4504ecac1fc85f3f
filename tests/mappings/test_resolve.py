import pytest
from django.db import connection
from hypothesis import given
from hypothesis import strategies as st

from adminpanel.models import BarMember, MemberRole
from mappings.names import normalize_server_name
from mappings.resolve import (
    AmbiguousName,
    InactiveServer,
    InvalidServerName,
    UnknownServerName,
    resolve_server_name,
    resolve_server_name_in_detail,
)
from tests.factories import BarMemberFactory, ServerFactory


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Aïcha", "aïcha"),
        ("  Aïcha  ", "aïcha"),
        ("AÏCHA", "aïcha"),
        ("Ai\u0308cha", "aïcha"),  # decomposed diaeresis composes to the same letter
        ("Jean \t\n Baptiste", "jean baptiste"),
        ("Jean\u00a0Baptiste", "jean baptiste"),  # no-break space
        ("ＦＡＴＯＵ", "fatou"),  # fullwidth letters
        ("ﬁfi", "fifi"),  # ligature
        ("Straße", "strasse"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_normalisation_trims_collapses_composes_and_case_folds(typed, expected):
    assert normalize_server_name(typed) == expected


def test_accents_are_kept_so_an_unaccented_spelling_is_another_name():
    assert normalize_server_name("Aicha") != normalize_server_name("Aïcha")


def test_cyrillic_lookalike_is_not_the_latin_name():
    assert normalize_server_name("Fаtou") != normalize_server_name("Fatou")  # Cyrillic "а"


@given(st.text())
def test_normalisation_is_idempotent(text):
    once = normalize_server_name(text)
    assert normalize_server_name(once) == once


@given(st.text(alphabet=st.characters(categories=["Zs", "Cc", "Lu", "Ll", "Mn"]), max_size=30))
def test_normalised_names_have_no_outer_or_double_whitespace(text):
    key = normalize_server_name(text)
    assert key == key.strip()
    assert "  " not in key


@pytest.mark.parametrize("typed", ["Aïcha", "aïcha", "  AÏCHA ", "Ai\u0308cha", "ＡÏＣＨＡ"])
def test_known_name_resolves_to_the_mapped_member_whatever_its_spelling(typed, bar, mapping, server):
    assert resolve_server_name(bar=bar, name=typed) == server


def test_known_name_costs_one_query(bar, mapping, server, django_assert_num_queries):
    with django_assert_num_queries(1):
        user = resolve_server_name(bar=bar, name="aïcha")
    assert user.username == "aicha"  # select_related: no further query


def test_known_name_lookup_uses_the_unique_index(bar, server, mapping):
    from mappings.models import ServerNameMapping

    ServerNameMapping.objects.bulk_create(
        ServerNameMapping(bar=bar, server_name=f"Server {i}", normalized_name=f"server {i}", user=server)
        for i in range(3000)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE server_name_mappings")
    plan = str(ServerNameMapping.objects.filter(bar=bar, normalized_name="aïcha").explain(format="json"))
    assert "server_name_mappings_unique_normalized" in plan
    assert "Seq Scan" not in plan


@pytest.mark.parametrize("typed", ["Aicha", "Bob", "Fаtou", "<script>alert(1)</script>"])
def test_unmapped_name_is_unknown(typed, bar, mapping):
    with pytest.raises(UnknownServerName) as caught:
        resolve_server_name(bar=bar, name=typed)
    assert caught.value.code == "unknown_server_name"


@pytest.mark.parametrize("typed", ["", "   ", "\t\n", "x" * 101, None])
def test_empty_or_overlong_name_is_invalid(typed, bar, mapping):
    with pytest.raises(InvalidServerName) as caught:
        resolve_server_name(bar=bar, name=typed)
    assert caught.value.code == "invalid_server_name"
    assert isinstance(caught.value, UnknownServerName)


def test_name_of_exactly_100_characters_may_resolve(bar, server, manager):
    from mappings import services

    name = "x" * 100
    services.create_mapping(bar=bar, server_name=name, user=server, actor=manager)
    assert resolve_server_name(bar=bar, name=f"  {name.upper()} ") == server


def test_mapping_of_another_bar_does_not_resolve_here(bar, other_mapping):
    with pytest.raises(UnknownServerName):
        resolve_server_name(bar=bar, name="Fatou")


def test_server_whose_membership_was_deactivated_is_inactive(bar, mapping, server):
    BarMember.objects.filter(bar=bar, user=server).update(is_active=False)
    with pytest.raises(InactiveServer) as caught:
        resolve_server_name(bar=bar, name="Aïcha")
    assert caught.value.code == "inactive_server"
    assert caught.value.detail["reason"] == "membership_inactive"


def test_server_whose_account_was_disabled_is_inactive(bar, mapping, server):
    server.is_active = False
    server.save()
    with pytest.raises(InactiveServer) as caught:
        resolve_server_name(bar=bar, name="Aïcha")
    assert caught.value.detail["reason"] == "account_inactive"


def test_server_who_left_the_bar_is_inactive(bar, mapping, server):
    BarMember.objects.filter(bar=bar, user=server).delete()
    with pytest.raises(InactiveServer):
        resolve_server_name(bar=bar, name="Aïcha")


def test_server_now_owner_is_no_longer_eligible(bar, mapping, server):
    BarMember.objects.filter(bar=bar, user=server).update(role=MemberRole.OWNER)
    with pytest.raises(InactiveServer) as caught:
        resolve_server_name(bar=bar, name="Aïcha")
    assert caught.value.detail["reason"] == "role_not_eligible"


def test_unmapped_name_two_members_answer_to_is_ambiguous(bar):
    for username in ("fatou1", "fatou2"):
        BarMemberFactory(bar=bar, user=ServerFactory(username=username, display_name="Fatou"), role=MemberRole.SERVER)
    with pytest.raises(AmbiguousName) as caught:
        resolve_server_name(bar=bar, name=" fatou ")
    assert caught.value.code == "ambiguous_name"
    assert caught.value.detail == {"candidates": 2}


def test_a_mapping_settles_an_ambiguous_name(bar, manager):
    from mappings import services

    users = [ServerFactory(username=f"fatou{i}", display_name="Fatou") for i in (1, 2)]
    for user in users:
        BarMemberFactory(bar=bar, user=user, role=MemberRole.SERVER)
    services.create_mapping(bar=bar, server_name="Fatou", user=users[1], actor=manager)
    assert resolve_server_name(bar=bar, name="FATOU") == users[1]


def test_one_member_with_that_display_name_but_no_mapping_is_still_unknown(bar, server):
    with pytest.raises(UnknownServerName) as caught:
        resolve_server_name(bar=bar, name="Aïcha")
    assert type(caught.value) is UnknownServerName


def test_resolution_in_detail_says_which_mapping_matched(bar, mapping, server):
    resolution = resolve_server_name_in_detail(bar=bar, name="AÏCHA")
    assert resolution.as_dict() == {
        "user_id": str(server.pk),
        "username": "aicha",
        "display_name": "Aïcha",
        "mapping_id": mapping.pk,
        "server_name": "Aïcha",
    }


def test_resolver_accepts_a_bar_id(bar, mapping, server):
    assert resolve_server_name(bar=bar.pk, name="aïcha") == server
