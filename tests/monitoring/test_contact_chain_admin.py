"""The contact chain is edited by admins in the Django admin, and every edit is audited; nobody else may."""

import pytest

from adminpanel.models import PanelEvent
from monitoring.models import Contact, ContactTier

pytestmark = pytest.mark.django_db

TIER_URL = "/django-admin/monitoring/contacttier/"


def tier_form(tier, contacts=(), **changes):
    data = {
        "name": tier.name,
        "position": str(tier.position),
        "responsibility": tier.responsibility,
        "contacts-TOTAL_FORMS": str(len(contacts)),
        "contacts-INITIAL_FORMS": "0",
        "contacts-MIN_NUM_FORMS": "0",
        "contacts-MAX_NUM_FORMS": "1000",
    }
    for index, contact in enumerate(contacts):
        data.update({f"contacts-{index}-{key}": value for key, value in contact.items()})
    data.update(changes)
    return data


def test_the_runbooks_three_tiers_exist_in_order():
    assert list(ContactTier.objects.values_list("position", "name")) == [
        (1, "Development team"),
        (2, "DevOps/Database team"),
        (3, "Product/Business team"),
    ]


def test_an_admin_adds_a_person_to_a_tier_and_it_is_audited(client, superuser):
    tier = ContactTier.objects.get(position=2)
    client.force_login(superuser)
    person = {"position": "1", "name": "Awa Diop", "phone": "+225 07 00", "email": "awa@example.com",
              "webhook_url": "https://hooks.example.com/T1", "is_active": "on"}  # fmt: skip
    response = client.post(f"{TIER_URL}{tier.pk}/change/", tier_form(tier, [person]))
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.tier == tier and contact.name == "Awa Diop"
    event = PanelEvent.objects.get(action="admin.add.monitoring.contact")
    assert event.actor == superuser and event.after["name"] == "Awa Diop" and event.reason == "Django admin"


def test_renaming_a_tier_records_before_and_after(client, superuser):
    tier = ContactTier.objects.get(position=1)
    client.force_login(superuser)
    client.post(f"{TIER_URL}{tier.pk}/change/", tier_form(tier, name="Dev on call"))
    event = PanelEvent.objects.get(action="admin.change.monitoring.contacttier")
    assert (event.before["name"], event.after["name"]) == ("Development team", "Dev on call")


def test_a_contact_needs_a_way_to_reach_them_and_an_http_webhook(client, superuser):
    tier = ContactTier.objects.get(position=1)
    client.force_login(superuser)
    nowhere = {"position": "1", "name": "Ghost", "is_active": "on"}
    response = client.post(f"{TIER_URL}{tier.pk}/change/", tier_form(tier, [nowhere]))
    assert response.status_code == 200 and not Contact.objects.exists()
    ftp = {"position": "1", "name": "Old", "webhook_url": "ftp://example.com/x", "is_active": "on"}
    response = client.post(f"{TIER_URL}{tier.pk}/change/", tier_form(tier, [ftp]))
    assert response.status_code == 200 and "Enter a valid URL" in response.content.decode()
    assert not Contact.objects.exists()


def test_support_and_product_cannot_edit_the_chain(client, support_user, product_user):
    tier = ContactTier.objects.get(position=1)
    for user in (support_user, product_user):
        client.force_login(user)
        response = client.post(f"{TIER_URL}{tier.pk}/change/", tier_form(tier, name="Hijacked"))
        assert response.status_code == 302 and response["Location"].startswith("/django-admin/login/")
    tier.refresh_from_db()
    assert tier.name == "Development team" and not PanelEvent.objects.exists()
