"""Login throttling (django-axes) on the panel's login page and the Django admin's: lockout, its page, its admin."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import PanelEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "right-password-42"
PANEL_LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/django-admin/login/"


@pytest.fixture
def marie(db):
    user = UserFactory(username="marie")
    user.set_password(PASSWORD)
    user.save()
    return user


def _try(client, url, username, password, address="127.0.0.1"):
    return client.post(url, {"username": username, "password": password}, REMOTE_ADDR=address)


def _logged_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", [PANEL_LOGIN, ADMIN_LOGIN], ids=["panel login", "django admin login"])
def test_fifty_wrong_passwords_are_not_all_answered_normally(client, marie, url):
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [_try(client, url, "marie", f"wrong-{i}").status_code for i in range(50)]
    # The first failures get the login form again; from the limit on, every attempt is refused as locked out.
    assert statuses[: limit - 1] == [200] * (limit - 1)
    assert statuses[limit - 1 :] == [429] * (50 - limit + 1)
    attempt = AccessAttempt.objects.get(username="marie")
    assert attempt.failures_since_start >= limit


def test_a_locked_out_user_gets_a_clear_page_even_with_the_right_password(client, marie):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _try(client, PANEL_LOGIN, "marie", f"wrong-{i}")
    response = _try(client, PANEL_LOGIN, "marie", PASSWORD)
    assert response.status_code == 429
    assert not _logged_in(client)
    html = response.content.decode()
    assert "Login locked for now" in html
    assert "<strong>marie</strong>" in html
    assert f"refused for {int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)} minutes" in html
    assert "Access attempts" in html  # who can lift it, and where
    assert response["Retry-After"] == str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    assert "Content-Security-Policy" in response


def test_the_lockout_holds_one_username_from_one_address_only(client, marie):
    other = UserFactory(username="paul")
    other.set_password(PASSWORD)
    other.save()
    for i in range(settings.AXES_FAILURE_LIMIT):
        _try(client, PANEL_LOGIN, "marie", f"wrong-{i}")
    assert _try(client, PANEL_LOGIN, "marie", PASSWORD).status_code == 429
    # Someone else from the same address, and marie from another address, still log in.
    assert _try(client, PANEL_LOGIN, "paul", PASSWORD).status_code == 302
    client.logout()
    assert _try(client, PANEL_LOGIN, "marie", PASSWORD, address="10.1.2.3").status_code == 302
    assert _logged_in(client)


def test_a_successful_login_resets_the_count(client, marie):
    limit = settings.AXES_FAILURE_LIMIT
    for i in range(limit - 1):
        _try(client, PANEL_LOGIN, "marie", f"wrong-{i}")
    assert _try(client, PANEL_LOGIN, "marie", PASSWORD).status_code == 302
    client.logout()
    statuses = [_try(client, PANEL_LOGIN, "marie", f"again-{i}").status_code for i in range(limit - 1)]
    assert statuses == [200] * (limit - 1)


def test_the_lockout_ends_after_the_cool_off(client, marie):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _try(client, PANEL_LOGIN, "marie", f"wrong-{i}")
    assert _try(client, PANEL_LOGIN, "marie", PASSWORD).status_code == 429
    # Drive the clock: the attempts are now older than the cool-off.
    past = timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    AccessAttempt.objects.update(attempt_time=past)
    assert _try(client, PANEL_LOGIN, "marie", PASSWORD).status_code == 302
    assert _logged_in(client)


def test_a_superuser_sees_the_lockout_and_lifting_it_is_audited(client, marie, superuser):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _try(client, PANEL_LOGIN, "marie", f"wrong-{i}")
    attempt = AccessAttempt.objects.get(username="marie")
    assert AccessFailureLog.objects.filter(username="marie", locked_out=True).exists()

    client.force_login(superuser)
    listing = client.get(reverse("admin:axes_accessattempt_changelist") + "?locked_out=yes")
    assert listing.status_code == 200
    html = listing.content.decode()
    assert "marie" in html and "Locked Out" in html
    assert client.get(reverse("admin:axes_accessfailurelog_changelist")).status_code == 200

    response = client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="marie").exists()
    event = PanelEvent.objects.get(action="admin.delete.axes.accessattempt")
    assert event.actor_name == superuser.username
    assert event.before["username"] == "marie"

    client.logout()
    assert _try(client, PANEL_LOGIN, "marie", PASSWORD).status_code == 302


def test_staff_without_permission_can_neither_see_nor_lift_a_lockout(client, marie):
    for i in range(settings.AXES_FAILURE_LIMIT):
        _try(client, PANEL_LOGIN, "marie", f"wrong-{i}")
    attempt = AccessAttempt.objects.get(username="marie")
    staff = UserFactory(username="staff_only", is_staff=True)
    client.force_login(staff)
    # Only superusers reach the Django admin at all (issue 25): a staff account is sent to its login page.
    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 302 and "/django-admin/login/" in listing["Location"]
    response = client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert response.status_code == 302 and "/django-admin/login/" in response["Location"]
    assert AccessAttempt.objects.filter(pk=attempt.pk).exists()
    assert not PanelEvent.objects.filter(action__startswith="admin.delete.axes").exists()


def test_login_and_failure_logs_are_read_only_in_the_admin(client, superuser, marie):
    _try(client, PANEL_LOGIN, "marie", "wrong")
    failure = AccessFailureLog.objects.get(username="marie")
    client.force_login(superuser)
    response = client.post(reverse("admin:axes_accessfailurelog_delete", args=[failure.pk]), {"post": "yes"})
    assert response.status_code == 403
    assert AccessFailureLog.objects.filter(pk=failure.pk).exists()
