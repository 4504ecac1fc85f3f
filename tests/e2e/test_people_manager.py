"""A bar manager's main job, walked in chromium at 1400 px and 390 px (issue 14): find the bar, map names by
picking members by NAME (search as you type), delete one and see the count follow, import a CSV written with
display names, read the history. Every screen is reviewed by ``PageReview`` (overflow, names of controls,
contrast, aria-live messages, leaked texts, console errors) and photographed under
test-artifacts/screenshots/manager/."""

import pytest
from playwright.sync_api import expect

from adminpanel.models import MemberRole
from mappings import services
from mappings.models import ServerNameMapping
from mappings.templatetags.mappings_tags import MEMBER_PICKER_FROM
from tests.e2e.people import PageReview
from tests.factories import BarFactory, BarMemberFactory, SaleFactory, ServerFactory, make_manager

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROLE = "manager"


def server(bar, username, display_name):
    user = ServerFactory(username=username, display_name=display_name)
    BarMemberFactory(bar=bar, user=user, role=MemberRole.SERVER)
    return user


def test_a_manager_maps_names_by_picking_people_imports_a_csv_of_display_names_and_reads_history(
    login, page, live_server
):
    bar = BarFactory(name="Test Bar 1")
    BarFactory(name="Chez Fatou")  # another bar: never offered to this manager
    manager = make_manager(bar, username="mgr", display_name="Mariam Koné")
    zoe = server(bar, "zkouassi", "Zoé Kouassi")
    awa = server(bar, "adiallo", "Awa Diallo")
    moussa = server(bar, "mtraore", "Moussa Traoré")
    for n in range(MEMBER_PICKER_FROM):  # a big bar: members are picked by searching, not scrolling a select
        server(bar, f"extra{n:02d}", f"Extra Server {n:02d}")
    old = services.create_mapping(bar=bar, server_name="Awa", user=awa, actor=manager)
    services.create_mapping(bar=bar, server_name="Moussa", user=moussa, actor=manager)
    SaleFactory.create_batch(3, bar=bar, server_name="Zoé")
    SaleFactory.create_batch(2, bar=bar, server_name="Aminata")
    review = PageReview(page, allowed_console=["status of 403"])
    page.on("dialog", lambda dialog: dialog.accept())

    login(manager)
    review.visit(ROLE, "home")
    page.click("nav >> text=Server names")
    review.visit(ROLE, "bar-list")
    page.click(f"main >> text={bar.name}")
    page.wait_for_selector("#mapping-add")
    review.visit(ROLE, "bar")

    # Map "Zoé" to Zoé Kouassi by typing part of her name: the datalist fills as one types.
    page.fill("#add-server-name", "Zoé")
    page.locator("#add-user").press_sequentially("kouas")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#add-user-options option')]"
        ".some(o => o.value === 'Zoé Kouassi (zkouassi)')"
    )
    offered = page.eval_on_selector_all("#add-user-options option", "options => options.map(o => o.value)")
    assert offered == ["Zoé Kouassi (zkouassi)"]
    page.fill("#add-user", "Zoé Kouassi (zkouassi)")
    page.click("#mapping-add button[type=submit]")
    expect(page.locator("#mapping-add")).to_contain_text("Mapped “Zoé” to Zoé Kouassi.")
    expect(page.locator("#mapping-table")).to_contain_text("zkouassi")
    expect(page.locator("#mapping-table .muted").last).to_have_text("3 mappings.")
    assert ServerNameMapping.objects.get(bar=bar, server_name="Zoé").user == zoe
    review.visit(ROLE, "bar-mapped-by-picker")

    # Delete a mapping: the row goes and the count says so (one source for rows and count).
    page.locator(f"#mapping-{old.pk} button", has_text="Delete").click()
    page.wait_for_function(
        "() => document.querySelectorAll('#mapping-rows tr[id^=mapping-]').length === 2"
        " && document.querySelector('#mapping-table p.muted').textContent.trim() === '2 mappings.'"
    )
    review.visit(ROLE, "bar-after-delete")

    # Import a CSV written the way managers write it: display names, one without its accent.
    page.click("nav[aria-label='This bar'] >> text=Import CSV")
    review.visit(ROLE, "import")
    page.set_input_files(
        "#import-file",
        files=[
            {
                "name": "names.csv",
                "mimeType": "text/csv",
                "buffer": b"server_name;member\nAminata;Awa Diallo\nAwa;awa diallo\nMoussa T;Moussa Traore\n",
            }
        ],
    )
    page.click("main button[type=submit]")
    page.wait_for_selector("#import-preview")
    expect(page.locator("#count-add")).to_have_text("3")
    expect(page.locator("#import-preview")).to_contain_text("Moussa Traoré (mtraore) (given as “Moussa Traore”)")
    review.visit(ROLE, "import-preview")
    page.click("#import-preview button[type=submit]")
    page.wait_for_selector("#messages .messages li.success")
    expect(page.locator("#messages")).to_contain_text("3 added")
    assert ServerNameMapping.objects.get(bar=bar, server_name="Aminata").user == awa
    review.visit(ROLE, "bar-after-import")

    # The history says who changed what, readably.
    page.click("nav[aria-label='This bar'] >> text=History")
    expect(page.locator("table.history")).to_contain_text("“Zoé” → zkouassi")
    review.visit(ROLE, "history")

    # A page that is not for managers says so inside the layout, with the menu and a way home.
    page.goto(f"{live_server.url}/backfill/")
    expect(page.locator("main h1")).to_have_text("You may not open this page")
    review.visit(ROLE, "forbidden")

    # On a phone the menu folds: Log out is one tap away, never off-screen.
    page.set_viewport_size({"width": 390, "height": 800})
    page.click("summary >> text=Menu")
    logout = page.get_by_role("button", name="Log out")
    expect(logout).to_be_visible()
    box = logout.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 390
    assert review.shots and all(shot.exists() for shot in review.shots)
