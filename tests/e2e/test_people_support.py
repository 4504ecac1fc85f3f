"""A support agent's main job, walked in chromium at 1400 px and 390 px (issue 14): find why a bar's sales fell
back to the recording user. The migration log filtered by the bar's NAME (an ambiguous name lists the
candidates), its root-cause summary, the backfill and validation pages telling the same figures in the same
words, the audit log with its chart whose counts link to exactly their rows. Read-only: every write is refused
on the server. Each screen is reviewed by ``PageReview`` and photographed under
test-artifacts/screenshots/support/."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from adminpanel.models import MemberRole, MigrationServerIdLog
from backfill.backfill import run_batches, start_backfill
from backfill.models import BackfillRun, ValidationRun
from backfill.selectors import log_totals
from backfill.validation import run_validation
from mappings import services
from mappings.models import ServerNameMapping
from tests.e2e.people import PageReview
from tests.factories import (
    AuditLogFactory,
    BarFactory,
    BarMemberFactory,
    SaleFactory,
    ServerFactory,
    make_manager,
    make_product,
    make_support,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ROLE = "support"


def seed():
    """Two bars called "Test Bar 1" (another city), one where names were never mapped: its sales fell back."""
    baobab = BarFactory(name="Maquis Baobab", settings={"city": "Abidjan"})
    BarFactory(name="Test Bar 1", settings={"city": "Abidjan"})
    BarFactory(name="Test Bar 1", settings={"city": "Bouaké"})
    manager = make_manager(baobab, username="mgr_baobab")
    aicha = ServerFactory(username="aicha", display_name="Aïcha")
    BarMemberFactory(bar=baobab, user=aicha, role=MemberRole.SERVER)
    cashier = ServerFactory(username="cashier", display_name="Awa Caisse")
    BarMemberFactory(bar=baobab, user=cashier, role=MemberRole.SERVER)
    services.create_mapping(bar=baobab, server_name="Aïcha", user=aicha, actor=manager)
    SaleFactory.create_batch(4, bar=baobab, server_name="Aïcha", created_by=cashier)
    SaleFactory.create_batch(3, bar=baobab, server_name="Patron", created_by=cashier)  # never mapped: fallback
    other = BarFactory(name="Chez Fatou")
    SaleFactory.create_batch(2, bar=other, server_name="Fatou")
    product = make_product(username="po")
    run = start_backfill(started_by=product, batch_size=5, via=BackfillRun.Via.PANEL)
    run_batches(run_id=run.pk)
    run_validation(run_by=product)
    now = timezone.now()
    for minutes in (2, 7):
        AuditLogFactory(
            level="error",
            error_type="server_id_resolution",
            error_message="server_id could not be resolved for “Patron”",
            bar=baobab,
            payload={"server_name": "Patron", "attempts": 2},
            created_at=now - timedelta(minutes=minutes),
        )
    AuditLogFactory(level="warning", error_type="server_id_resolution", error_message="server_id slow", bar=baobab)
    AuditLogFactory(level="error", error_type="server_id_resolution", error_message="timeout", bar=baobab)
    return baobab


def test_support_finds_why_sales_fell_back_reading_every_page_and_changing_nothing(login, page, live_server):
    baobab = seed()
    support = make_support(username="support_agent", display_name="Sam Support")
    review = PageReview(page, allowed_console=["status of 403"])

    login(support)
    review.visit(ROLE, "home")

    # The migration log, filtered by the bar's name typed in the picker.
    page.click("nav >> text=Migration log")
    page.wait_for_selector("#migration-summary h2")
    expect(page.locator("#migration-summary")).to_contain_text("whole migration log")
    review.visit(ROLE, "migration-log")
    page.locator("#id_bar").press_sequentially("baob")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#id_bar-options option')].some(o => o.value === 'Maquis Baobab')"
    )
    page.fill("#id_bar", "Maquis Baobab")
    page.select_option("#id_fallback_used", "true")
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**/logs/migration/?*")
    rows = page.locator("#log-rows tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator("#log-rows")).to_contain_text("Name not mapped in this bar")
    expect(page.locator("#log-rows")).not_to_contain_text("Chez Fatou")
    review.visit(ROLE, "migration-log-by-bar-name")

    # "Test Bar 1" is two bars: the page lists both with their city and id, and lists no row by a guess.
    page.fill("#id_bar", "Test Bar 1")
    page.select_option("#id_fallback_used", "")
    page.click("form.filters button[type=submit]")
    expect(page.locator("form.filters .error")).to_contain_text("2 bars are called “Test Bar 1”")
    expect(page.locator("form.filters .error")).to_contain_text("Bouaké")
    expect(page.locator("#log-rows")).to_contain_text("Correct the filter above")
    review.visit(ROLE, "migration-log-ambiguous")

    # The backfill page and the validation tell the same figures in the same words.
    totals = log_totals()
    page.click("nav >> text=Backfill")
    page.wait_for_selector("#log-totals .grid")
    expect(page.locator("#progress-body")).to_contain_text("this run only")
    expect(page.locator("#log-totals")).to_contain_text(f"resolved by mapping{totals.by_mapping}")
    expect(page.locator("main")).not_to_contain_text("Start a run")  # read-only
    review.visit(ROLE, "backfill")
    page.click("nav >> text=Validation")
    line = page.locator("#check-backfill_results")
    expect(line).to_contain_text(f"{totals.by_mapping:,} resolved by mapping")
    expect(line).to_contain_text(f"{totals.left_null:,} left without a server")
    expect(page.locator("main")).to_contain_text("Product owners run the validation")
    review.visit(ROLE, "validation")

    # The audit log: the chart's window is stated, and its count links to exactly those rows.
    page.click("nav >> text=Audit logs")
    page.wait_for_selector("#error-chart table")
    expect(page.locator("#error-chart")).to_contain_text("Window:")
    review.visit(ROLE, "audit-log")
    link = page.locator("#error-chart td a").first
    count = int(link.inner_text())
    assert count == 2
    link.click()
    page.wait_for_url("**server_id_errors=true**")
    expect(page.locator("#log-rows tbody tr")).to_have_count(count)
    review.visit(ROLE, "audit-log-server-id-errors")
    page.fill("#id_bar", "Maquis Baobab")
    page.click("form.filters button[type=submit]")
    expect(page.locator("#log-rows tbody tr")).to_have_count(count)

    # Read-only, on the server: every write this agent could try is refused and changes nothing.
    csrf = json.loads(page.get_attribute("body", "hx-headers"))["X-CSRFToken"]
    before = (
        BackfillRun.objects.count(),
        ValidationRun.objects.count(),
        ServerNameMapping.objects.count(),
        MigrationServerIdLog.objects.count(),
    )
    writes = [
        ("/backfill/start/", {"confirmed": "on"}),
        ("/validation/run/", {}),
        (f"/mappings/bars/{baobab.pk}/add/", {"server_name": "Patron", "user": "cashier"}),
    ]
    for path, form in writes:
        answer = page.request.post(f"{live_server.url}{path}", form=form, headers={"X-CSRFToken": csrf})
        assert answer.status == 403, path
    after = (
        BackfillRun.objects.count(),
        ValidationRun.objects.count(),
        ServerNameMapping.objects.count(),
        MigrationServerIdLog.objects.count(),
    )
    assert after == before

    # The bar's mappings are readable, plainly marked read-only.
    page.goto(f"{live_server.url}/mappings/bars/{baobab.pk}/")
    expect(page.locator("main")).to_contain_text("Read-only")
    expect(page.locator("#mapping-add")).to_have_count(0)
    review.visit(ROLE, "bar-read-only")
    assert review.shots and all(shot.exists() for shot in review.shots)
