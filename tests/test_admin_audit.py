"""Changes made in the Django admin are audited like changes made in the panel."""

import pytest

from adminpanel.models import BarMember, MemberRole, PanelEvent
from adminpanel.permissions import MANAGE_BAR_MAPPINGS
from tests.factories import BarFactory, UserFactory

pytestmark = pytest.mark.django_db


def _bar_form(bar, **changes):
    data = {
        "name": bar.name,
        "settings": '{"operatingMode": "simplified"}',
        "is_internal": "",
        "created_at_0": bar.created_at.strftime("%Y-%m-%d"),
        "created_at_1": bar.created_at.strftime("%H:%M:%S"),
        "members-TOTAL_FORMS": "0",
        "members-INITIAL_FORMS": "0",
        "members-MIN_NUM_FORMS": "0",
        "members-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def test_changing_a_bars_operating_mode_in_the_admin_records_before_and_after(client, superuser):
    bar = BarFactory(name="Maquis Soleil")
    client.force_login(superuser)
    response = client.post(f"/django-admin/adminpanel/bar/{bar.pk}/change/", _bar_form(bar))
    assert response.status_code == 302
    event = PanelEvent.objects.get(action="admin.change.adminpanel.bar")
    assert event.actor == superuser and event.bar == bar
    assert event.before["settings"] == {} and event.after["settings"] == {"operatingMode": "simplified"}


def test_adding_a_member_inline_is_audited(client, superuser):
    bar = BarFactory()
    server = UserFactory()
    client.force_login(superuser)
    data = _bar_form(
        bar,
        settings="{}",
        **{
            "members-TOTAL_FORMS": "1",
            "members-0-user": str(server.pk),
            "members-0-role": MemberRole.SERVER,
            "members-0-is_active": "on",
            "members-0-created_at_0": "2026-01-01",
            "members-0-created_at_1": "10:00:00",
        },
    )
    assert client.post(f"/django-admin/adminpanel/bar/{bar.pk}/change/", data).status_code == 302
    assert BarMember.objects.filter(bar=bar, user=server).exists()
    event = PanelEvent.objects.get(action="admin.add.adminpanel.barmember")
    assert event.after["user_id"] == str(server.pk) and event.bar == bar


def test_granting_an_object_permission_in_the_admin_is_audited(client, superuser):
    bar = BarFactory()
    manager = UserFactory(username="granted")
    client.force_login(superuser)
    url = f"/django-admin/adminpanel/bar/{bar.pk}/permissions/user-manage/{manager.pk}/"
    response = client.post(url, {"permissions": ["manage_bar_mappings"]})
    assert response.status_code == 302
    assert manager.has_perm(MANAGE_BAR_MAPPINGS, bar)
    event = PanelEvent.objects.get(action="admin.permissions.adminpanel.bar")
    assert event.before == {"holder": "user:granted", "permissions": []}
    assert event.after == {"holder": "user:granted", "permissions": ["manage_bar_mappings"]}


def test_deleting_a_bar_in_the_admin_keeps_a_record_of_it(client, superuser):
    bar = BarFactory(name="Closing bar")
    client.force_login(superuser)
    response = client.post(f"/django-admin/adminpanel/bar/{bar.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    event = PanelEvent.objects.get(action="admin.delete.adminpanel.bar")
    assert event.before["name"] == "Closing bar" and event.target_id == str(bar.pk)


def test_passwords_never_reach_the_audit_trail(client, superuser):
    user = UserFactory(username="someone")
    client.force_login(superuser)
    client.post(
        f"/django-admin/adminpanel/user/{user.pk}/change/",
        {
            "username": "someone",
            "display_name": "Renamed",
            "date_joined_0": "2026-01-01",
            "date_joined_1": "10:00:00",
            "is_active": "on",
        },
    )
    event = PanelEvent.objects.get(action="admin.change.adminpanel.user")
    assert event.after["display_name"] == "Renamed"
    assert "password" not in event.before and "password" not in event.after
