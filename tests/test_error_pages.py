"""403, 404, 500 and CSRF refusals are pages of the panel: the layout, the navigation, a way back (issue 14)."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse

from adminpanel.error_pages import server_error

pytestmark = pytest.mark.django_db


def in_layout(html: str) -> bool:
    return 'aria-label="Main"' in html and 'href="/"' in html and "Log out" in html


@pytest.mark.parametrize("debug", [False, True])
def test_a_403_is_in_the_layout_with_its_reason_and_a_way_back(debug, settings, manager, client_for):
    settings.DEBUG = debug
    response = client_for(manager).get(reverse("backfill:backfill"))
    html = response.content.decode()
    assert response.status_code == 403
    assert in_layout(html) and "This page is for support staff and product owners." in html
    assert "the home page" in html


def test_a_404_is_in_the_layout(manager, client_for):
    response = client_for(manager).get("/no-such-page/")
    assert response.status_code == 404 and in_layout(response.content.decode())
    assert "Page not found" in response.content.decode()


def test_a_manager_asking_for_another_bar_gets_the_same_404(manager, other_bar, client_for):
    response = client_for(manager).get(reverse("mappings:bar_detail", args=[other_bar.pk]))
    assert response.status_code == 404 and in_layout(response.content.decode())


@pytest.mark.parametrize("debug", [False, True])
def test_a_refused_csrf_token_is_explained_in_the_layout(debug, settings, product_user):
    settings.DEBUG = debug
    client = Client(enforce_csrf_checks=True)
    client.force_login(product_user)
    response = client.post(reverse("backfill:validation_run"))
    html = response.content.decode()
    assert response.status_code == 403 and in_layout(html)
    assert "reload the page" in html and "Nothing was changed" in html
    assert "CSRF verification failed" not in html


def test_the_500_page_has_a_way_back(db):
    request = RequestFactory().get("/")
    from django.contrib.auth.models import AnonymousUser

    request.user = AnonymousUser()
    response = server_error(request)
    html = response.content.decode()
    assert response.status_code == 500 and 'href="/"' in html and "Something went wrong" in html
