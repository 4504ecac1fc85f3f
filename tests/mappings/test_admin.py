"""Edits in the Django admin go through the services: validated, and recorded in the mapping history."""

from django.urls import reverse

from adminpanel.models import PanelEvent
from mappings.models import ServerNameMapping


def test_admin_add_change_and_delete_are_in_the_history(bar, server, other_server, superuser, client_for):
    client = client_for(superuser)
    response = client.post(
        reverse("admin:mappings_servernamemapping_add"),
        {"bar": str(bar.pk), "server_name": "Aïcha", "user": str(server.pk)},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    mapping = ServerNameMapping.objects.get()
    client.post(
        reverse("admin:mappings_servernamemapping_change", args=[mapping.pk]),
        {"server_name": "Aïcha", "user": str(other_server.pk)},
    )
    mapping.refresh_from_db()
    assert mapping.user == other_server
    client.post(reverse("admin:mappings_servernamemapping_delete", args=[mapping.pk]), {"post": "yes"})
    assert not ServerNameMapping.objects.exists()
    events = PanelEvent.objects.filter(bar=bar, reason="Django admin").order_by("pk")
    assert [e.action for e in events] == ["mapping.create", "mapping.update", "mapping.delete"]
    assert all(e.actor == superuser for e in events)


def test_admin_refuses_a_non_member_like_the_panel(bar, other_bar_server, superuser, client_for):
    response = client_for(superuser).post(
        reverse("admin:mappings_servernamemapping_add"),
        {"bar": str(bar.pk), "server_name": "Fatou", "user": str(other_bar_server.pk)},
    )
    assert response.status_code == 200
    assert "active server or manager of this bar" in response.content.decode()
    assert not ServerNameMapping.objects.exists()


def test_admin_bulk_delete_is_in_the_history(bar, mapping, superuser, client_for):
    client_for(superuser).post(
        reverse("admin:mappings_servernamemapping_changelist"),
        {"action": "delete_selected", "_selected_action": [mapping.pk], "post": "yes"},
    )
    assert not ServerNameMapping.objects.exists()
    assert PanelEvent.objects.filter(action="mapping.delete", reason="Django admin").count() == 1
