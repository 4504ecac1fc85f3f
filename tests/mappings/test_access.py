"""Permission matrix: every read and write of a bar's mappings, for every kind of user, by URL tampering too."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from adminpanel.models import PanelEvent
from mappings import services
from mappings.models import MappingImport, ServerNameMapping

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def world(bar, mapping, server, manager, other_bar, other_mapping, other_bar_server, other_manager):
    """Bar A (run by `manager`) and bar B (run by `other_manager`), each with a mapping and a pending import."""
    _, import_a = services.preview_import(bar=bar, actor=manager, filename="a.csv", data=b"Zed,aicha\n")
    _, import_b = services.preview_import(bar=other_bar, actor=other_manager, filename="b.csv", data=b"Zed,fatou\n")
    return {
        "a": {"bar": bar, "mapping": mapping, "member": server, "import": import_a},
        "b": {"bar": other_bar, "mapping": other_mapping, "member": other_bar_server, "import": import_b},
    }


def reads(bar, mapping):
    b = bar.pk
    return [
        ("get", reverse("mappings:bar_detail", args=[b]), {}, {}),
        *[
            ("get", reverse("mappings:bar_detail", args=[b]), {"section": s}, HTMX)
            for s in ("coverage", "table", "unmapped", "history")
        ],
        ("get", reverse("mappings:unmapped", args=[b]), {}, {}),
        ("get", reverse("mappings:export", args=[b]), {}, {}),
        ("get", reverse("mappings:tester", args=[b]), {"name": "Fatou"}, {}),
        ("get", reverse("mappings:history", args=[b]), {}, {}),
        ("get", reverse("mappings:mapping_row", args=[b, mapping.pk]), {}, HTMX),
    ]


def writes(bar, mapping, member, pending):
    b = bar.pk
    body = {"server_name": "Intruder", "user": str(member.pk)}
    return [
        ("get", reverse("mappings:mapping_create", args=[b]), {}, {}),
        ("get", reverse("mappings:mapping_edit", args=[b, mapping.pk]), {}, HTMX),
        ("get", reverse("mappings:import", args=[b]), {}, {}),
        ("post", reverse("mappings:mapping_create", args=[b]), body, {}),
        ("post", reverse("mappings:mapping_create", args=[b]), {**body, "source": "unmapped"}, HTMX),
        ("post", reverse("mappings:mapping_edit", args=[b, mapping.pk]), body, HTMX),
        ("post", reverse("mappings:mapping_delete", args=[b, mapping.pk]), {}, {}),
        ("post", reverse("mappings:import", args=[b]), {"file": SimpleUploadedFile("x.csv", b"Intruder,x\n")}, {}),
        ("post", reverse("mappings:import_apply", args=[b, pending.pk]), {}, {}),
    ]


def state():
    return (
        sorted(ServerNameMapping.objects.values_list("pk", "bar_id", "server_name", "user_id")),
        PanelEvent.objects.count(),
        sorted(MappingImport.objects.values_list("pk", "applied_at")),
    )


def call(client, method, path, data, headers):
    return getattr(client, method)(path, data, **headers)


def test_manager_of_bar_a_gets_404_for_everything_of_bar_b(world, manager, client_for):
    client = client_for(manager)
    b = world["b"]
    before = state()
    for method, path, data, headers in reads(b["bar"], b["mapping"]) + writes(
        b["bar"], b["mapping"], b["member"], b["import"]
    ):
        response = call(client, method, path, data, headers)
        assert response.status_code in (403, 404), (method, path, response.status_code)
    assert state() == before


def test_url_tampering_with_bar_bs_objects_under_bar_as_url_gets_404(world, manager, client_for):
    """Bar A is the manager's own, but the mapping, member and import ids are bar B's."""
    client = client_for(manager)
    a, b = world["a"], world["b"]
    before = state()
    for method, path, data, headers in [
        ("get", reverse("mappings:mapping_row", args=[a["bar"].pk, b["mapping"].pk]), {}, HTMX),
        ("get", reverse("mappings:mapping_edit", args=[a["bar"].pk, b["mapping"].pk]), {}, HTMX),
        (
            "post",
            reverse("mappings:mapping_edit", args=[a["bar"].pk, b["mapping"].pk]),
            {"server_name": "X", "user": str(a["member"].pk)},
            HTMX,
        ),
        ("post", reverse("mappings:mapping_delete", args=[a["bar"].pk, b["mapping"].pk]), {}, HTMX),
        ("post", reverse("mappings:import_apply", args=[a["bar"].pk, b["import"].pk]), {}, {}),
    ]:
        assert call(client, method, path, data, headers).status_code == 404, path
    # mapping bar B's member under bar A is refused by the membership rule
    response = client.post(
        reverse("mappings:mapping_create", args=[a["bar"].pk]),
        {"server_name": "Fatou", "user": str(b["member"].pk)},
        **HTMX,
    )
    assert 'id="add-user-error"' in response.content.decode()
    assert state() == before


def test_malformed_or_unknown_bar_ids_are_404(manager, client_for, db):
    client = client_for(manager)
    assert client.get("/mappings/bars/not-a-uuid/").status_code == 404
    assert client.get("/mappings/bars/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_manager_of_bar_a_may_do_everything_on_bar_a(world, manager, client_for):
    client = client_for(manager)
    a = world["a"]
    for method, path, data, headers in reads(a["bar"], a["mapping"]):
        response = call(client, method, path, data, headers)
        assert response.status_code == 200, path
        if not headers and "export" not in path:
            assert "Read-only" not in response.content.decode(), path


@pytest.mark.parametrize("who", ["support_user", "product_user"])
def test_support_and_product_read_every_bar_but_write_none(who, world, request, client_for):
    client = client_for(request.getfixturevalue(who))
    before = state()
    for side in ("a", "b"):
        bar, mapping, member, pending = (world[side][k] for k in ("bar", "mapping", "member", "import"))
        for method, path, data, headers in reads(bar, mapping):
            assert call(client, method, path, data, headers).status_code == 200, path
        for method, path, data, headers in writes(bar, mapping, member, pending):
            response = call(client, method, path, data, headers)
            assert response.status_code == 403, (method, path, response.status_code)
    assert state() == before


@pytest.mark.parametrize("who", ["support_user", "product_user"])
def test_read_only_users_see_no_edit_controls(who, world, request, client_for):
    html = (
        client_for(request.getfixturevalue(who))
        .get(reverse("mappings:bar_detail", args=[world["a"]["bar"].pk]))
        .content.decode()
    )
    assert "Read-only" in html
    assert 'id="mapping-add"' not in html and ">Delete<" not in html and "Import CSV" not in html


def test_user_without_a_role_sees_no_bar(world, plain_user, client_for):
    client = client_for(plain_user)
    before = state()
    for side in ("a", "b"):
        w = world[side]
        for method, path, data, headers in reads(w["bar"], w["mapping"]) + writes(
            w["bar"], w["mapping"], w["member"], w["import"]
        ):
            assert call(client, method, path, data, headers).status_code == 404, path
    assert world["a"]["bar"].name not in client.get(reverse("mappings:bar_list")).content.decode()
    assert state() == before


def test_anonymous_users_are_redirected_to_login(world, client):
    before = state()
    w = world["a"]
    for method, path, data, headers in (
        reads(w["bar"], w["mapping"])
        + writes(w["bar"], w["mapping"], w["member"], w["import"])
        + [("get", reverse("mappings:bar_list"), {}, {})]
    ):
        response = call(client, method, path, data, headers)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), path
    assert state() == before


def test_superuser_may_write_any_bar(world, superuser, client_for):
    b = world["b"]
    response = client_for(superuser).post(
        reverse("mappings:mapping_create", args=[b["bar"].pk]), {"server_name": "Fatou 2", "user": str(b["member"].pk)}
    )
    assert response.status_code == 302
    assert ServerNameMapping.objects.filter(bar=b["bar"], server_name="Fatou 2").exists()


def test_manager_whose_permission_was_revoked_loses_access(world, manager, client_for):
    from guardian.shortcuts import remove_perm

    from adminpanel.permissions import MANAGE_BAR_MAPPINGS

    remove_perm(MANAGE_BAR_MAPPINGS, manager, world["a"]["bar"])
    assert client_for(manager).get(reverse("mappings:bar_detail", args=[world["a"]["bar"].pk])).status_code == 404


def test_group_object_permission_grants_the_bar_too(world, client_for):
    from django.contrib.auth.models import Group
    from guardian.shortcuts import assign_perm

    from adminpanel.permissions import MANAGE_BAR_MAPPINGS
    from tests.factories import UserFactory

    team = Group.objects.create(name="night-shift")
    assign_perm(MANAGE_BAR_MAPPINGS, team, world["b"]["bar"])
    user = UserFactory(username="night")
    user.groups.add(team)
    client = client_for(user)
    assert client.get(reverse("mappings:bar_detail", args=[world["b"]["bar"].pk])).status_code == 200
    assert client.get(reverse("mappings:bar_detail", args=[world["a"]["bar"].pk])).status_code == 404
