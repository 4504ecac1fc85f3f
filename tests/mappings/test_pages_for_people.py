"""Issue 14 on the mappings pages: members picked and imported by display name, counts that follow a delete,
no leaked template text, readable history, the Django admin's user page."""

import json
import re

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from adminpanel.models import MemberRole, PanelEvent
from adminpanel.permissions import MANAGE_BAR_MAPPINGS
from mappings import services
from mappings.models import ServerNameMapping
from mappings.templatetags.mappings_tags import MEMBER_PICKER_FROM
from tests.factories import BarMemberFactory, ServerFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(name, bar, *args):
    return reverse(f"mappings:{name}", args=[bar.pk, *args])


def preview(bar, actor, text):
    return services.preview_import(bar=bar, actor=actor, filename="m.csv", data=text.encode())


# --- CSV import by display name -------------------------------------------------------------------------


def test_the_import_accepts_display_names_as_managers_use_them(bar, server, other_server, manager):
    plan, pending = preview(bar, manager, "server_name,member\nAicha,Aïcha\nMouss,moussa\nMo,MOUSSA\nZ,aicha\n")
    assert plan.ok, plan.errors
    assert [(row.server_name, row.user) for row in plan.adds] == [
        ("Aicha", server),
        ("Mouss", other_server),
        ("Mo", other_server),
        ("Z", server),
    ]
    assert plan.adds[0].given_by_display_name and plan.adds[0].member_label == "Aïcha (aicha)"


def test_accents_and_spacing_of_a_display_name_do_not_matter(bar, server, manager):
    plan, _ = preview(bar, manager, "Aicha, aicha \nA2,  AICHA\n")
    assert plan.ok and {row.user for row in plan.adds} == {server}


def test_an_ambiguous_display_name_is_a_bad_row_naming_the_candidates(bar, server, manager):
    twin = ServerFactory(username="aicha2", display_name="Aïcha")
    BarMemberFactory(bar=bar, user=twin, role=MemberRole.SERVER)
    plan, pending = preview(bar, manager, "Aicha,Aïcha\n")
    assert pending is None
    assert plan.errors[0].line == 1
    assert "could mean 2 members: Aïcha (aicha), Aïcha (aicha2)" in plan.errors[0].reason
    # The label from the picker, or the login, picks one.
    plan, _ = preview(bar, manager, "Aicha,Aïcha (aicha2)\nB,aicha\n")
    assert plan.ok and [row.user for row in plan.adds] == [twin, server]


def test_a_display_name_of_someone_outside_the_bar_is_refused(bar, server, manager, other_bar_server):
    plan, _ = preview(bar, manager, "F,Fatou\n")
    assert "No active server or manager of this bar" in plan.errors[0].reason


def test_the_preview_page_shows_who_each_row_maps_to_before_anything_is_written(bar, server, manager, client_for):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("m.csv", "Aicha,Aïcha\n".encode(), content_type="text/csv")
    html = client_for(manager).post(url("import", bar), {"file": upload}).content.decode()
    assert "Aïcha (aicha)" in html and "given as “Aïcha”" in html
    assert not ServerNameMapping.objects.exists()


# --- Picking the member ------------------------------------------------------------------------------------


def test_a_bar_with_few_members_keeps_the_select(bar, server, manager, client_for):
    html = client_for(manager).get(url("bar_detail", bar)).content.decode()
    assert '<select id="add-user" name="user"' in html and 'list="add-user-options"' not in html


def test_a_bar_with_many_members_offers_the_picker_and_a_typed_name_is_accepted(bar, manager, client_for):
    for n in range(MEMBER_PICKER_FROM + 1):
        BarMemberFactory(bar=bar, user=ServerFactory(username=f"srv{n}", display_name=f"Server Nº{n}"))
    client = client_for(manager)
    html = client.get(url("bar_detail", bar)).content.decode()
    assert 'list="add-user-options"' in html
    assert f"/pick/users/?field=user&amp;bar={bar.pk}&amp;roles=server%2Cmanager&amp;active=1" in html
    response = client.post(url("mapping_create", bar), {"server_name": "Seven", "user": "server nº7"})
    assert response.status_code == 302
    assert ServerNameMapping.objects.get(server_name="Seven").user.username == "srv7"


def test_a_typed_member_of_another_bar_is_refused(bar, manager, other_bar_server, client_for):
    response = client_for(manager).post(url("mapping_create", bar), {"server_name": "F", "user": "Fatou"})
    assert "No active server or manager of this bar is called “Fatou”" in response.content.decode()
    assert not ServerNameMapping.objects.exists()


def test_a_support_user_cannot_add_a_mapping(bar, server, support_user, client_for):
    response = client_for(support_user).post(url("mapping_create", bar), {"server_name": "A", "user": "aicha"})
    assert response.status_code == 403 and not ServerNameMapping.objects.exists()


# --- Counts after a delete ---------------------------------------------------------------------------------


def test_after_a_delete_the_table_and_its_count_reload_together(bar, server, other_server, manager, client_for):
    first = services.create_mapping(bar=bar, server_name="A", user=server, actor=manager)
    services.create_mapping(bar=bar, server_name="B", user=other_server, actor=manager)
    services.create_mapping(bar=bar, server_name="C", user=other_server, actor=manager)
    client = client_for(manager)
    response = client.post(url("mapping_delete", bar, first.pk), **HTMX)
    events = json.loads(response["HX-Trigger"])
    assert "mapping-added" in events and "mappings-changed" in events  # table and other sections refresh
    table = client.get(url("bar_detail", bar), {"section": "table"}, **HTMX).content.decode()
    rows = len(re.findall(r'<tr id="mapping-\d+">', table))
    assert rows == 2 and "2 mappings." in table


# --- Leaks, times, history -----------------------------------------------------------------------------------


def test_the_bar_page_prints_no_template_comment_and_no_iso_time(bar, mapping, manager, client_for):
    html = client_for(manager).get(url("bar_detail", bar)).content.decode()
    assert "{#" not in html and "The refreshing sections listen" not in html
    assert "<time datetime=" in html and not re.search(r">\d{4}-\d{2}-\d{2} \d{2}:\d{2}", html)


def test_history_shows_an_unusual_change_as_json_not_a_repr(bar, mapping, manager, client_for):
    PanelEvent.objects.create(
        actor=manager,
        action="admin.change.mappings.servernamemapping",
        target_type=services.MAPPING_TARGET,
        target_id=str(mapping.pk),
        bar=bar,
        before={"user_id": 1, "note": "é"},
        after={"user_id": 2, "note": None},
    )
    html = client_for(manager).get(url("history", bar)).content.decode()
    assert "{&quot;note&quot;: null, &quot;user_id&quot;: 2}" in html
    assert "{&#x27;" not in html and "None" not in html


# --- Django admin --------------------------------------------------------------------------------------------


def test_the_admin_user_page_lists_the_bars_a_person_manages(bar, other_bar, manager, superuser, client_for):
    html = client_for(superuser).get(reverse("admin:adminpanel_user_change", args=[manager.pk])).content.decode()
    assert "Bars whose server names this person manages" in html
    assert bar.name in html and reverse("admin:adminpanel_bar_change", args=[bar.pk]) in html
    assert other_bar.name not in html.split("Bars whose server names")[1].split("</div>")[2]


def test_the_object_permission_screen_says_what_to_type_and_accepts_a_display_name(bar, superuser, client_for):
    person = UserFactory(username="kone", display_name="Awa Koné")
    client = client_for(superuser)
    page = reverse("admin:adminpanel_bar_permissions", args=[bar.pk])
    html = client.get(page).content.decode()
    assert "USERNAME_FIELD" not in html and "login (username) or display name" in html
    response = client.post(page, {"user": "Awa Kone", "submit_manage_user": "1"})
    assert response.status_code == 302 and str(person.pk) in response["Location"]
    assign_perm(MANAGE_BAR_MAPPINGS, person, bar)


def test_the_admin_audit_trail_shows_before_and_after_as_json(superuser, client_for, manager, bar):
    PanelEvent.objects.create(actor=manager, action="x.y", target_type="t", target_id="1", before={"a": "é"})
    html = client_for(superuser).get(reverse("admin:adminpanel_panelevent_changelist")).content.decode()
    assert "{&quot;a&quot;: &quot;é&quot;}" in html


def test_unmapped_names_offer_the_picker_on_a_big_bar_and_map_by_a_typed_name(bar, manager, client_for):
    from tests.factories import SaleFactory

    for n in range(MEMBER_PICKER_FROM + 1):
        BarMemberFactory(bar=bar, user=ServerFactory(username=f"srv{n}", display_name=f"Server {n}"))
    SaleFactory.create_batch(2, bar=bar, server_name="Patron")
    client = client_for(manager)
    html = client.get(url("unmapped", bar)).content.decode()
    assert 'list="map-user-1-options"' in html and '<label class="visually-hidden" for="map-user-1">' in html
    response = client.post(
        url("mapping_create", bar),
        {"source": "unmapped", "server_name": "Patron", "user": "Server 3", "row": "1"},
        **HTMX,
    )
    assert "Mapped to Server 3" in response.content.decode()
    assert ServerNameMapping.objects.get(bar=bar, server_name="Patron").user.username == "srv3"


def test_the_admin_links_the_style_that_lifts_its_header_contrast(superuser, client_for):
    html = client_for(superuser).get(reverse("admin:index")).content.decode()
    assert "css/admin.css" in html and "Django administration" in html
