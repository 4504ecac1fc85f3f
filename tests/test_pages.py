"""Every page: anonymous users go to the login page; no demo user ever gets a server error."""

import re
import uuid

import pytest
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from adminpanel.models import Bar
from demo.seeding import seed_demo

pytestmark = pytest.mark.django_db

CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?(?P<name>\w+)>")


def _routes(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            if route.startswith("django-admin/"):
                continue  # the Django admin has its own tests below
            yield from _routes(pattern, route)
        elif isinstance(pattern, URLPattern) and not route.startswith("^"):
            yield route, pattern.callback


def _fill(route: str, bar_id: str) -> str:
    def value(match):
        kind, name = match.group("kind") or "str", match.group("name")
        if kind == "uuid":
            return bar_id if "bar" in name else str(uuid.uuid4())
        return "1" if kind == "int" else "x"

    return "/" + CONVERTER.sub(value, route)


ROUTES = sorted(set(_routes()), key=lambda item: item[0])


def test_the_site_has_pages_to_check():
    assert any(route == "" for route, _ in ROUTES)


@pytest.mark.parametrize(("route", "view"), ROUTES, ids=[route or "/" for route, _ in ROUTES])
def test_anonymous_users_are_sent_to_login_unless_the_view_is_public(client, route, view):
    response = client.get(_fill(route, str(uuid.uuid4())))
    goes_to_login = response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert goes_to_login == getattr(view, "login_required", True)
    assert response.status_code < 500


@pytest.fixture
def demo_users(django_user_model):
    seed_demo(bars=6, sales=300, seed=1)
    call_command("demo_logins", "--password", "demo-pass-42", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return django_user_model.objects.filter(username__in=["admin", "support", "product", "manager"])


def test_no_page_answers_a_server_error_to_any_demo_user(client, demo_users):
    bar_id = str(Bar.objects.order_by("-is_internal", "name").first().pk)
    failures = []
    for user in demo_users:
        client.force_login(user)
        for route, _ in ROUTES:
            url = _fill(route, bar_id)
            status = client.get(url).status_code
            if status >= 500:
                failures.append((user.username, url, status))
    assert failures == []


@pytest.mark.parametrize(
    "url",
    [
        "/django-admin/",
        "/django-admin/adminpanel/bar/",
        "/django-admin/adminpanel/user/",
        "/django-admin/adminpanel/auditlog/",
        "/django-admin/adminpanel/panelevent/",
        "/django-admin/adminpanel/apiclient/",
        "/django-admin/rollout/featureflag/",
        "/django-admin/mappings/servernamemapping/",
    ],
)
def test_the_django_admin_serves_superusers_only(client, demo_users, url):
    client.force_login(demo_users.get(username="support"))
    assert client.get(url).status_code == 302  # to the admin login: not staff
    client.force_login(demo_users.get(username="admin"))
    assert client.get(url).status_code == 200


def test_guardian_object_permission_screen_is_available_for_bars(client, demo_users):
    client.force_login(demo_users.get(username="admin"))
    bar = Bar.objects.first()
    response = client.get(f"/django-admin/adminpanel/bar/{bar.pk}/permissions/")
    assert response.status_code == 200
    assert b"<h1>Object permissions</h1>" in response.content


def test_creating_an_api_client_in_the_admin_shows_its_token_once_and_stores_a_hash(client, demo_users):
    from adminpanel.models import ApiClient
    from adminpanel.models.api import hash_token

    client.force_login(demo_users.get(username="admin"))
    response = client.post(
        "/django-admin/adminpanel/apiclient/add/",
        {"name": "pos", "is_active": "on", "all_bars": "on", "expires_at_0": "2099-01-01", "expires_at_1": "00:00:00"},
        follow=True,
    )
    shown = [str(m) for m in response.context["messages"] if "copy it now" in str(m)]
    assert len(shown) == 1
    raw = shown[0].rsplit(": ", 1)[1]
    assert ApiClient.objects.get(name="pos").token_hash == hash_token(raw)
