"""The layout every page shares (base.html, issue 14): messages announced, a menu that folds on a phone."""

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_messages_are_inside_an_aria_live_region(bar, server_for_layout, manager, client_for):
    client = client_for(manager)
    client.post(
        reverse("mappings:mapping_create", args=[bar.pk]), {"server_name": "Awa", "user": str(server_for_layout.pk)}
    )
    html = client.get(reverse("mappings:bar_detail", args=[bar.pk])).content.decode()
    region = re.search(r'<div id="messages"[^>]*aria-live="polite"[^>]*>(.*?)</div>', html, re.S)
    assert region and "Mapped “Awa”" in region.group(1)


def test_the_navigation_folds_into_a_menu_with_log_out_inside(support_user, client_for):
    html = client_for(support_user).get("/").content.decode()
    menu = html[html.index('<details class="nav-menu">') : html.index("</details>")]
    assert "<summary>Menu</summary>" in menu and 'aria-label="Main"' in menu and "Log out" in menu


@pytest.fixture
def server_for_layout(bar):
    from tests.factories import ServerFactory, member

    return member(bar, ServerFactory(username="awa_layout", display_name="Awa"))
