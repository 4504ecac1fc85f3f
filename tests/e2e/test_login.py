import pytest

from tests.factories import BarFactory, make_manager, make_product, make_support

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_each_role_logs_in_through_the_form_and_sees_its_own_section(login, page, live_server):
    bar = BarFactory(name="Maquis Lagune")
    users = {
        "manager-overview": make_manager(bar, username="mgr"),
        "support-overview": make_support(username="sup"),
        "product-overview": make_product(username="prod"),
    }
    for section, user in users.items():
        login(user)
        assert page.locator(f"#{section}").is_visible()
        others = {s for s in users if s != section}
        for other in others:
            assert page.locator(f"#{other}").count() == 0
        page.click("text=Log out")
        page.wait_for_url(f"{live_server.url}/accounts/login/")
