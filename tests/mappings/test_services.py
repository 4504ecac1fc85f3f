import pytest
from django.core.exceptions import ValidationError

from adminpanel.models import AuditLog, BarMember, MemberRole, PanelEvent
from mappings import services
from mappings.models import ServerNameMapping
from mappings.models.mapping import DUPLICATE_NAME_MESSAGE
from mappings.resolve import UnknownServerName
from tests.factories import BarMemberFactory, ServerFactory, bartender_user_of


def history(bar):
    return list(PanelEvent.objects.filter(bar=bar, target_type=services.MAPPING_TARGET).order_by("pk"))


def test_create_mapping_stores_the_typed_spelling_and_its_key(bar, server, manager):
    mapping = services.create_mapping(bar=bar, server_name="  Aïcha   B. ", user=server, actor=manager)
    mapping.refresh_from_db()
    assert mapping.server_name == "Aïcha B."
    assert mapping.normalized_name == "aïcha b."
    assert PanelEvent.objects.get(target_id=str(mapping.pk), action=services.CREATED).actor == manager


def test_create_mapping_records_who_when_and_after(bar, server, manager):
    mapping = services.create_mapping(bar=bar, server_name="Aïcha", user=server, actor=manager)
    [event] = history(bar)
    assert event.action == "mapping.create"
    assert event.actor == manager and event.actor_name == "manager_a"
    assert event.target_id == str(mapping.pk)
    assert event.before is None
    assert event.after == {
        "server_name": "Aïcha",
        "normalized_name": "aïcha",
        "user_id": str(server.pk),
        "username": "aicha",
    }


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_name_must_be_present_and_at_most_100_characters(name, bar, server, manager):
    with pytest.raises(ValidationError) as caught:
        services.create_mapping(bar=bar, server_name=name, user=server, actor=manager)
    assert "server_name" in caught.value.message_dict
    assert not ServerNameMapping.objects.exists() and not history(bar)


@pytest.mark.parametrize("duplicate", ["Aïcha", "aïcha", "  AÏCHA ", "Ai\u0308cha"])
def test_name_is_unique_per_bar_on_its_normalised_form(duplicate, bar, mapping, other_server, manager):
    with pytest.raises(ValidationError) as caught:
        services.create_mapping(bar=bar, server_name=duplicate, user=other_server, actor=manager)
    assert caught.value.message_dict["server_name"] == [DUPLICATE_NAME_MESSAGE]
    assert ServerNameMapping.objects.count() == 1
    assert len(history(bar)) == 1


def test_same_name_may_be_mapped_in_two_bars(bar, mapping, other_bar, other_bar_server, other_manager):
    services.create_mapping(bar=other_bar, server_name="Aïcha", user=other_bar_server, actor=other_manager)
    assert ServerNameMapping.objects.filter(normalized_name="aïcha").count() == 2


@pytest.mark.parametrize(
    "member",
    [
        {"role": MemberRole.OWNER},
        {"role": MemberRole.SERVER, "is_active": False},
        None,  # not a member of the bar at all
        "disabled account",
    ],
)
def test_user_must_be_an_active_server_or_manager_of_the_bar(member, bar, manager):
    user = ServerFactory(username="candidate")
    if member == "disabled account":
        BarMemberFactory(bar=bar, user=user, role=MemberRole.SERVER)
        user.is_active = False
        user.save()
    elif member is not None:
        BarMemberFactory(bar=bar, user=user, **member)
    with pytest.raises(ValidationError) as caught:
        services.create_mapping(bar=bar, server_name="Candidate", user=user, actor=manager)
    assert "user" in caught.value.message_dict
    assert not ServerNameMapping.objects.exists()


def test_a_manager_may_be_the_mapped_user(bar, manager):
    mapping = services.create_mapping(bar=bar, server_name="Patron", user=bartender_user_of(manager), actor=manager)
    assert mapping.user == manager.bartender_user


def test_server_of_another_bar_cannot_be_mapped(bar, other_bar_server, manager):
    with pytest.raises(ValidationError) as caught:
        services.create_mapping(bar=bar, server_name="Fatou", user=other_bar_server, actor=manager)
    assert "user" in caught.value.message_dict


def test_missing_user_is_an_error_on_the_user_field(bar, manager):
    with pytest.raises(ValidationError) as caught:
        services.create_mapping(bar=bar, server_name="Nobody", user=None, actor=manager)
    assert "user" in caught.value.message_dict


def test_update_mapping_records_before_and_after(bar, mapping, server, other_server, manager):
    services.update_mapping(mapping=mapping, server_name="Aïcha K.", user=other_server, actor=manager)
    mapping.refresh_from_db()
    assert (mapping.server_name, mapping.user) == ("Aïcha K.", other_server)
    event = history(bar)[-1]
    assert event.action == "mapping.update"
    assert event.before["username"] == "aicha" and event.before["server_name"] == "Aïcha"
    assert event.after["username"] == "moussa" and event.after["server_name"] == "Aïcha K."


def test_update_that_changes_nothing_writes_nothing(bar, mapping, server, manager):
    before = mapping.updated_at
    services.update_mapping(mapping=mapping, server_name=" Aïcha ", user=server, actor=manager)
    mapping.refresh_from_db()
    assert mapping.updated_at == before
    assert len(history(bar)) == 1


def test_update_may_keep_its_own_name(bar, mapping, other_server, manager):
    services.update_mapping(mapping=mapping, server_name="AÏCHA", user=other_server, actor=manager)
    mapping.refresh_from_db()
    assert mapping.server_name == "AÏCHA"


def test_refused_update_changes_nothing(bar, mapping, other_server, server, manager):
    other = services.create_mapping(bar=bar, server_name="Moussa", user=other_server, actor=manager)
    with pytest.raises(ValidationError):
        services.update_mapping(mapping=other, server_name="AI\u0308CHA", user=server, actor=manager)
    other.refresh_from_db()
    assert (other.server_name, other.user) == ("Moussa", other_server)
    assert len(history(bar)) == 2


def test_delete_mapping_records_what_it_was_and_stops_resolving(bar, mapping, manager):
    from mappings.resolve import resolve_server_name

    pk = mapping.pk
    services.delete_mapping(mapping=mapping, actor=manager)
    assert not ServerNameMapping.objects.filter(pk=pk).exists()
    event = history(bar)[-1]
    assert event.action == "mapping.delete" and event.target_id == str(pk)
    assert event.before["server_name"] == "Aïcha" and event.after is None
    with pytest.raises(UnknownServerName):
        resolve_server_name(bar=bar, name="Aïcha")


def test_deleting_a_mapping_already_gone_does_nothing(bar, mapping, manager):
    services.delete_mapping(mapping=mapping, actor=manager)
    services.delete_mapping(mapping=mapping, actor=manager)
    assert len(history(bar)) == 2


def test_database_refuses_a_duplicate_written_behind_the_services_back(bar, mapping, other_server):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        ServerNameMapping.objects.create(bar=bar, server_name="AÏCHA", user=other_server)


def test_record_resolution_refusal_writes_an_audit_log(bar):
    error = UnknownServerName("No server of this bar is mapped to “Bob”.", name="Bob")
    log = services.record_resolution_refusal(bar=bar, name="Bob", error=error, source="api")
    log.refresh_from_db()
    assert log.error_type == "server_id_resolution"
    assert log.level == AuditLog.Level.ERROR
    assert "server_id" in log.error_message
    assert log.payload["code"] == "unknown_server_name" and log.payload["name"] == "Bob"


def test_membership_rules_follow_the_bar_members_table(bar, manager):
    user = ServerFactory(username="late")
    BarMemberFactory(bar=bar, user=user, role=MemberRole.SERVER, is_active=False)
    with pytest.raises(ValidationError):
        services.create_mapping(bar=bar, server_name="Late", user=user, actor=manager)
    BarMember.objects.filter(user=user).update(is_active=True)
    assert services.create_mapping(bar=bar, server_name="Late", user=user, actor=manager).pk


def test_updating_a_mapping_deleted_meanwhile_is_a_validation_error(bar, mapping, server, manager):
    ServerNameMapping.objects.filter(pk=mapping.pk).delete()
    with pytest.raises(ValidationError, match="deleted meanwhile"):
        services.update_mapping(mapping=mapping, server_name="Aïcha", user=server, actor=manager)
