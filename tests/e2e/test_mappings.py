"""A bar manager maps server names in a real chromium: inline add, a duplicate fixed, one-click mapping."""

import pytest
from playwright.sync_api import expect

from adminpanel.models import MemberRole
from adminpanel.models.bartender import login_of
from mappings import services
from mappings.models import ServerNameMapping
from tests.factories import BarFactory, BarMemberFactory, SaleFactory, ServerFactory, make_manager

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def member(bar, username, display_name):
    user = ServerFactory(username=username, display_name=display_name)
    BarMemberFactory(bar=bar, user=user, role=MemberRole.SERVER)
    return user


def test_manager_adds_fixes_a_duplicate_maps_an_unmapped_name_and_coverage_rises(login, page, live_server):
    bar = BarFactory(name="Maquis Lagune")
    manager = make_manager(bar, username="mgr")
    aicha = member(bar, "aicha", "Aïcha")
    moussa = member(bar, "moussa", "Moussa")
    services.create_mapping(bar=bar, server_name="Aïcha", user=aicha, actor=manager)
    SaleFactory.create_batch(4, bar=bar, server_name="Aïcha")
    SaleFactory.create_batch(4, bar=bar, server_name="Moussa")
    SaleFactory.create_batch(2, bar=bar, server_name="Aicha")  # typed without the accent

    login(manager)
    page.click("nav >> text=Server names")
    page.click(f"text={bar.name}")
    coverage = page.locator("#coverage-figure")
    expect(coverage).to_have_text("40.0 %")
    page.evaluate("window.stillTheSamePage = true")

    # Inline add with a name the bar already maps (another spelling of it): the error sits by the field.
    page.fill("#add-server-name", "  AÏCHA ")
    page.select_option("#add-user", str(moussa.pk))
    page.click("#mapping-add button[type=submit]")
    expect(page.locator("#add-server-name-error")).to_contain_text("already maps that name")
    expect(page.locator("#add-server-name")).to_have_attribute("aria-invalid", "true")
    assert ServerNameMapping.objects.filter(bar=bar).count() == 1

    # Fix the name: the mapping appears in the table and coverage rises.
    page.fill("#add-server-name", "Moussa")
    page.click("#mapping-add button[type=submit]")
    expect(page.locator("#mapping-add")).to_contain_text("Mapped “Moussa” to Moussa.")
    expect(page.locator("#mapping-table")).to_contain_text("moussa")
    expect(coverage).to_have_text("80.0 %")
    expect(page.locator("#unmapped td.name", has_text="Moussa")).to_have_count(0)

    # The unmapped spelling comes with Aïcha pre-selected: one click maps it.
    row = page.locator("#unmapped tbody tr").filter(has=page.locator("td.name", has_text="Aicha"))
    expect(row).to_have_count(1)
    expect(row.locator("select")).to_have_value(str(aicha.pk))
    row.get_by_role("button", name="Map").click()
    expect(coverage).to_have_text("100.0 %")
    expect(page.locator("#unmapped")).to_contain_text("Every name typed on this bar's POS is mapped.")
    expect(page.locator("#history")).to_contain_text("“Aicha” → aicha")

    assert page.evaluate("window.stillTheSamePage") is True  # all of it inline, no page load
    mappings = ServerNameMapping.objects.filter(bar=bar).annotate(login=login_of("user__"))
    assert sorted(mappings.values_list("normalized_name", "login")) == [
        ("aicha", "aicha"),
        ("aïcha", "aicha"),
        ("moussa", "moussa"),
    ]


def test_inline_edit_and_delete(login, page, live_server):
    bar = BarFactory(name="Chez Awa")
    manager = make_manager(bar, username="mgr2")
    awa = member(bar, "awa", "Awa")
    yao = member(bar, "yao", "Yao")
    mapping = services.create_mapping(bar=bar, server_name="Awa", user=awa, actor=manager)

    login(manager)
    page.goto(f"{live_server.url}/mappings/bars/{bar.pk}/")
    row = page.locator(f"#mapping-{mapping.pk}")
    row.get_by_role("link", name="Edit").click()
    page.select_option(f"#edit-{mapping.pk}-user", str(yao.pk))
    row.get_by_role("button", name="Save").click()
    expect(row).to_contain_text("yao")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(page.locator(f"#mapping-{mapping.pk}")).to_have_count(0)
    expect(page.locator("#history")).to_contain_text("deleted")
    assert not ServerNameMapping.objects.filter(bar=bar).exists()
