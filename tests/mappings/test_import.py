"""CSV import: preview first, then apply all or nothing (services and the pages around them)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from adminpanel.models import MemberRole, PanelEvent
from adminpanel.models.bartender import login_of
from mappings import services
from mappings.models import MappingImport, ServerNameMapping
from tests.factories import BarMemberFactory, ServerFactory, UserFactory

BOM = b"\xef\xbb\xbf"


def preview(bar, actor, text, *, encoding="utf-8", prefix=b""):
    return services.preview_import(bar=bar, actor=actor, filename="m.csv", data=prefix + text.encode(encoding))


def snapshot(bar):
    mappings = ServerNameMapping.objects.filter(bar=bar).annotate(login=login_of("user__"))
    return sorted(mappings.values_list("normalized_name", "login"))


@pytest.fixture
def members(bar, server, other_server):
    return server, other_server


@pytest.mark.parametrize("prefix", [b"", BOM])
@pytest.mark.parametrize("separator", [",", ";"])
def test_clean_file_previews_adds_changes_and_unchanged(prefix, separator, bar, mapping, members, manager):
    BarMemberFactory(bar=bar, user=ServerFactory(username="awa", display_name="Awa"), role=MemberRole.SERVER)
    text = separator.join(["server_name", "username"]) + "\n"
    text += f"Aïcha{separator}aicha\nMoussa{separator}moussa\nAwa{separator}awa\n"
    plan, pending = preview(bar, manager, text, prefix=prefix)
    assert plan.ok
    assert plan.summary == {"add": 2, "change": 0, "unchanged": 1, "errors": 0}
    assert pending.content.startswith("server_name")  # the BOM is gone
    assert snapshot(bar) == [("aïcha", "aicha")]  # a preview writes no mapping


def test_apply_writes_every_row_and_its_history(bar, mapping, members, manager):
    plan, pending = preview(bar, manager, "AÏCHA,moussa\nMoussa,moussa\n")
    assert plan.summary == {"add": 1, "change": 1, "unchanged": 0, "errors": 0}
    services.apply_import(mapping_import=pending, actor=manager)
    assert snapshot(bar) == [("aïcha", "moussa"), ("moussa", "moussa")]
    assert ServerNameMapping.objects.get(bar=bar, normalized_name="aïcha").server_name == "AÏCHA"
    events = PanelEvent.objects.filter(bar=bar, reason="CSV import m.csv", target_type=services.MAPPING_TARGET)
    assert sorted(events.values_list("action", flat=True)) == ["mapping.create", "mapping.update"]
    update = events.get(action="mapping.update")
    assert update.before["username"] == "aicha" and update.after["username"] == "moussa"
    pending.refresh_from_db()
    assert pending.applied_at is not None
    applied = PanelEvent.objects.get(action="mapping.import")
    assert applied.target_id == str(pending.pk) and applied.actor == manager
    assert applied.after == {"add": 1, "change": 1, "unchanged": 0, "errors": 0}


def test_duplicate_names_inside_the_file_are_bad_rows(bar, members, manager):
    plan, pending = preview(bar, manager, "server_name,username\nAïcha,aicha\nMoussa,moussa\n  aïcha ,moussa\n")
    assert pending is None
    assert [(e.line, e.reason) for e in plan.errors] == [
        (4, "Duplicate of line 2 (names match whatever their case or spacing).")
    ]


def test_unknown_users_and_non_members_are_bad_rows(bar, members, manager, other_bar_server):
    plan, _ = preview(bar, manager, "Ghost,nobody_here\nFatou,fatou\nAïcha,\n")
    assert [(e.line, e.reason) for e in plan.errors] == [
        (1, "No active server or manager of this bar has the login or display name “nobody_here”."),
        (2, "“fatou” is not an active server or manager of this bar."),
        (3, "A username is required."),
    ]


def test_usernames_match_whatever_their_case_when_unambiguous(bar, members, manager):
    plan, _ = preview(bar, manager, "Aïcha,AICHA\n")
    assert plan.ok and plan.adds[0].user.username == "aicha"


def test_bad_row_in_the_middle_blocks_the_whole_file(bar, mapping, members, manager):
    text = "server_name,username\nMoussa,moussa\n" + "x" * 101 + ",aicha\nAïcha,moussa\n"
    plan, pending = preview(bar, manager, text)
    assert pending is None and not plan.ok
    assert [(e.line, e.reason) for e in plan.errors] == [
        (3, "A server name has at most 100 characters (this one has 101).")
    ]
    assert snapshot(bar) == [("aïcha", "aicha")]


def test_apply_replans_and_refuses_when_the_bar_changed_since_the_preview(bar, members, manager, server):
    plan, pending = preview(bar, manager, "Moussa,moussa\nAïcha,aicha\n")
    assert plan.ok
    server.bar_memberships.update(is_active=False)
    with pytest.raises(services.ImportRefused) as refused:
        services.apply_import(mapping_import=pending, actor=manager)
    assert [e.line for e in refused.value.plan.errors] == [2]
    assert snapshot(bar) == []  # not even the good row
    pending.refresh_from_db()
    assert pending.applied_at is None


def test_an_import_applies_once(bar, members, manager):
    _, pending = preview(bar, manager, "Moussa,moussa\n")
    services.apply_import(mapping_import=pending, actor=manager)
    with pytest.raises(services.ImportRefused):
        services.apply_import(mapping_import=pending, actor=manager)
    assert ServerNameMapping.objects.filter(bar=bar).count() == 1


def test_exported_file_imports_as_all_unchanged(bar, mapping, members, manager, client_for):
    services.create_mapping(bar=bar, server_name="=Moussa; le grand", user=members[1], actor=manager)
    response = client_for(manager).get(reverse("mappings:export", args=[bar.pk]))
    data = b"".join(response.streaming_content)
    plan, _ = services.preview_import(bar=bar, actor=manager, filename="x.csv", data=data)
    assert plan.summary == {"add": 0, "change": 0, "unchanged": 2, "errors": 0}


def mapping_state(bar):
    return sorted(
        ServerNameMapping.objects.filter(bar=bar).values_list(
            "pk", "server_name", "normalized_name", "user_id", "updated_at"
        )
    )


def test_export_then_import_of_the_unchanged_file_changes_nothing(bar, members, manager, client_for):
    """Issue 10: '+1' is exported as the defused \"'+1\"; re-imported it is '+1' again, not a new mapping
    \"'+1\" — and a name that really starts with an apostrophe keeps it."""
    server, other = members
    for name, user in [("+1", server), ("'+1", other), ("=SUM(A1)", server), ("-Jo", other), ("'Tiens", server)]:
        services.create_mapping(bar=bar, server_name=name, user=user, actor=manager)
    services.create_mapping(bar=bar, server_name="Jean, B.", user=other, actor=manager)
    client = client_for(manager)
    history = PanelEvent.objects.filter(action__in=["mapping.create", "mapping.update", "mapping.delete"])
    before, changes = mapping_state(bar), history.count()

    exported = b"".join(client.get(reverse("mappings:export", args=[bar.pk])).streaming_content)
    assert "\r\n'+1,aicha\r\n" in exported.decode("utf-8-sig")
    assert "\r\n''+1,moussa\r\n" in exported.decode("utf-8-sig")
    preview_page = upload(client, bar, exported)
    assert preview_page.status_code == 200
    assert preview_page.context["plan"].summary == {"add": 0, "change": 0, "unchanged": 6, "errors": 0}
    assert "The file changes nothing." in preview_page.content.decode()

    plan, pending = services.preview_import(bar=bar, actor=manager, filename="same.csv", data=exported)
    services.apply_import(mapping_import=pending, actor=manager)
    assert mapping_state(bar) == before
    assert history.count() == changes


# --- the pages ------------------------------------------------------------------------------------------


def upload(client, bar, content: bytes, name="mappings.csv"):
    return client.post(reverse("mappings:import", args=[bar.pk]), {"file": SimpleUploadedFile(name, content)})


def test_upload_page_shows_the_preview_and_apply_button(bar, members, manager, client_for):
    client = client_for(manager)
    response = upload(client, bar, BOM + "server_name;username\nAïcha;aicha\nMoussa;moussa\n".encode())
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="count-add">2<' in html and "Apply: add 2, change 0" in html
    pending = MappingImport.objects.get(bar=bar)
    response = client.post(reverse("mappings:import_apply", args=[bar.pk, pending.pk]))
    assert response.status_code == 302
    assert snapshot(bar) == [("aïcha", "aicha"), ("moussa", "moussa")]


def test_upload_with_bad_rows_lists_them_and_offers_no_apply(bar, members, manager, client_for):
    response = upload(client_for(manager), bar, b"Aicha,aicha\n<script>x</script>,ghost\nAICHA,aicha\n")
    html = response.content.decode()
    assert 'id="count-errors">2<' in html
    assert "Apply:" not in html
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert not MappingImport.objects.exists()


def test_oversize_upload_gets_a_clear_error_and_changes_nothing(bar, members, manager, client_for, settings):
    settings.MAPPINGS_IMPORT_MAX_BYTES = 1024
    response = upload(client_for(manager), bar, b"Aicha,aicha\n" * 200)
    assert response.status_code == 200
    assert "The file (2.3 KB) is over the 1 KB limit. Split it into smaller files." in response.content.decode()
    assert not MappingImport.objects.exists() and snapshot(bar) == []


def test_oversize_upload_at_the_real_limit(bar, members, manager, client_for):
    content = b"Aicha,aicha\n" * (5 * 1024 * 1024 // 12 + 10)
    response = upload(client_for(manager), bar, content)
    assert "is over the 5 MB (5,242,880 bytes) limit. Split it into smaller files." in response.content.decode()
    assert not MappingImport.objects.exists()


def test_too_many_rows_gets_a_clear_error(bar, members, manager, client_for):
    content = "".join(f"Name {i},aicha\n" for i in range(10_001)).encode()
    response = upload(client_for(manager), bar, content)
    assert "The file has more than 10,000 rows; split it into smaller files." in response.content.decode()


def test_non_utf8_upload_gets_a_clear_error(bar, members, manager, client_for):
    response = upload(client_for(manager), bar, "Aïcha;aicha\n".encode("cp1252"))
    assert "not UTF-8" in response.content.decode()


def test_another_manager_cannot_apply_my_preview(bar, members, manager, client_for):
    _, pending = preview(bar, manager, "Moussa,moussa\n")
    colleague = UserFactory(username="colleague")
    from guardian.shortcuts import assign_perm

    from adminpanel.permissions import MANAGE_BAR_MAPPINGS

    assign_perm(MANAGE_BAR_MAPPINGS, colleague, bar)
    response = client_for(colleague).post(reverse("mappings:import_apply", args=[bar.pk, pending.pk]))
    assert response.status_code == 404
    assert snapshot(bar) == []


def test_apply_refused_at_the_last_moment_says_why(bar, members, manager, server, client_for):
    _, pending = preview(bar, manager, "Aïcha,aicha\n")
    server.bar_memberships.update(is_active=False)
    response = client_for(manager).post(reverse("mappings:import_apply", args=[bar.pk, pending.pk]))
    assert response.status_code == 409
    assert "Import refused" in response.content.decode()
    assert snapshot(bar) == []
