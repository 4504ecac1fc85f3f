import pytest
from django.core.management import call_command
from django.urls import reverse

from adminpanel.models import User
from adminpanel.permissions import FLIP_FLAG, MANAGE_BAR_MAPPINGS, TRIGGER_ROLLBACK
from demo.seeding import seed_demo
from rollout.models import FeatureFlag

pytestmark = pytest.mark.django_db

SECTIONS = {"manager-overview", "support-overview", "product-overview"}


@pytest.fixture
def demo(capsys):
    seed_demo(bars=12, sales=600, seed=1)
    call_command("demo_logins", "--password", "demo-pass-42")
    return capsys.readouterr().out


def test_demo_logins_are_printed_one_per_role(demo):
    for username in ("admin", "support", "product", "manager"):
        assert username in demo
    assert "demo-pass-42" in demo


def test_demo_roles_hold_exactly_their_permissions(demo):
    manager = User.objects.get(username="manager")
    product = User.objects.get(username="product")
    support = User.objects.get(username="support")
    managed = list(manager.bartender_user.bar_memberships.all())
    assert len(managed) == 3 and all(manager.has_perm(MANAGE_BAR_MAPPINGS, m.bar) for m in managed)
    assert all(product.has_perm(FLIP_FLAG, flag) for flag in FeatureFlag.objects.all())
    assert product.has_perm(TRIGGER_ROLLBACK)
    assert not support.has_perm(TRIGGER_ROLLBACK)
    assert not any(support.has_perm(FLIP_FLAG, flag) for flag in FeatureFlag.objects.all())
    assert User.objects.get(username="admin").is_superuser


def _login(client, username, password) -> bool:
    """Through the login page, as a person does (django-axes wants the request that Client.login() lacks)."""
    return client.post(reverse("login"), {"username": username, "password": password}).status_code == 302


@pytest.mark.parametrize(
    ("username", "visible"),
    [
        ("manager", {"manager-overview"}),
        ("support", {"support-overview"}),
        ("product", {"product-overview"}),
        ("admin", SECTIONS),
    ],
)
def test_each_demo_login_lands_on_a_page_that_fits_its_role(demo, client, username, visible):
    assert _login(client, username, "demo-pass-42")
    page = client.get(reverse("home")).content.decode()
    assert {section for section in SECTIONS if f'id="{section}"' in page} == visible


def test_running_it_again_resets_the_password_and_keeps_one_account_per_role(demo, client):
    call_command("demo_logins", "--password", "another-pass-7")
    assert User.objects.filter(username__in=["admin", "support", "product", "manager"]).count() == 4
    assert not _login(client, "support", "demo-pass-42")
    assert _login(client, "support", "another-pass-7")


def test_the_demo_gives_every_tier_of_the_contact_chain_someone_to_tell_once(demo):
    from monitoring.models import Contact, ContactTier

    assert all(tier.contacts.filter(is_active=True).exclude(email="").exists() for tier in ContactTier.objects.all())
    call_command("demo_logins", "--password", "demo-pass-42")
    assert Contact.objects.count() == ContactTier.objects.count() == 3
