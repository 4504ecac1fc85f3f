"""Browser: stage 4a's Internal Testing Checklist fills itself as BarTender works in the test bar — the POS resolves
typed names through the resolution API (an unknown name is refused and logged), the manager records sales,
a consignment and a return for the servers under RLS as Supabase's clients do — then a product owner attests the
one item the data cannot show (a bad link first: refused, nothing changed), and the 4b gate opens."""

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from adminpanel.models import BarMember, MemberRole
from adminpanel.permissions import FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from monitoring.health.health_checks import jwt_claims
from monitoring.models import CheckStatus, HealthRun
from rollout.models import EventKind, RolloutEvent, RolloutState
from rollout.runbook.load_test import AS_CLIENT
from rollout.stages.cohort_compare import compare_cohorts
from tests.factories import (
    BarFactory,
    ServerFactory,
    ServerNameMappingFactory,
    advance,
    backdate_soak,
    grant_owner,
    issue_api_token,
    make_product,
    meet_runbook_prerequisites,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ITEM = "#checklist-4a li[data-item={}]"


def resolve(live_server, token, bar, name) -> tuple[int, dict]:
    """What the POS asks before it records a sale in simplified mode."""
    request = urllib.request.Request(  # noqa: S310 - the live server
        live_server.url + reverse("mappings:api_resolve_server", args=[bar.pk]),
        data=json.dumps({"name": name}).encode(), method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the live server's http URL
            return response.status, json.load(response)
    except urllib.error.HTTPError as refused:
        return refused.code, json.load(refused)


def as_client(user_id, sql: str, params: dict) -> None:
    """One statement as BarTender's app sends it: role `authenticated` with the user's JWT claims, under RLS."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(AS_CLIENT, ["authenticated", jwt_claims(user_id)])
        cursor.execute(sql, params)


def sell(live_server, token, bar, manager, name: str, amount: int) -> bool:
    """The POS: resolve the typed name, then the manager records the sale for that server (or it is blocked)."""
    status, body = resolve(live_server, token, bar, name)
    if status != 200:
        return False
    as_client(manager.pk, "INSERT INTO sales (bar_id, server_id, created_by, server_name, amount, created_at) "
              "VALUES (%(bar)s, %(server)s, %(me)s, %(name)s, %(amount)s, now())",
              {"bar": bar.pk, "server": body["user_id"], "me": manager.pk, "name": name, "amount": amount})  # fmt: skip
    return True


def test_the_checklist_fills_itself_from_the_test_bar_one_item_is_attested_and_4b_opens(
    login, page, live_server, settings
):
    ARTIFACTS.mkdir(exist_ok=True)
    settings.ROLLOUT_SOAK_HOURS = {"4a": 1, "4b": 24, "4c": 24}
    settings.COCKPIT_POLL_SECONDS = 2
    owner = grant_owner(make_product(username="po"), FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK)
    test_bar = BarFactory(is_internal=True, name="Test Bar 1")
    BarFactory(is_internal=True, name="Test Bar 2")
    BarFactory.create_batch(20)
    max_manager = ServerFactory(username="max", display_name="Max Manager")
    BarMember.objects.create(bar=test_bar, user=max_manager, role=MemberRole.MANAGER)
    for name in ("Ana", "Ben"):
        server = ServerFactory(username=name.lower(), display_name=f"{name} Server")
        BarMember.objects.create(bar=test_bar, user=server, role=MemberRole.SERVER)
        ServerNameMappingFactory(bar=test_bar, server_name=name, user=server)
    token = issue_api_token()
    HealthRun.objects.create(started_at=timezone.now(), finished_at=timezone.now(), status=CheckStatus.OK)
    meet_runbook_prerequisites()
    advance(owner)  # stage 4a: the two internal bars switch to simplified mode
    backdate_soak(hours=2)  # it has soaked longer than its hour, with healthy cohort figures

    login(owner)
    page.set_viewport_size({"width": 1300, "height": 1000})
    checklist = page.locator("#checklist-4a")
    expect(checklist).to_have_attribute("data-complete", "no")
    expect(page.locator(ITEM.format("role_filtering"))).to_have_attribute("data-passed", "no")
    expect(page.locator("#step-stage_4b li[data-gate=checklist_4a]")).to_contain_text("Missing: ")

    # BarTender at work in Test Bar 1: five sales for two servers, a typo refused, a consignment and a return.
    for name, amount in (("Ana", 1200), ("Ana", 800), ("ana ", 1000), ("Ben", 1500), ("Ben", 500)):
        assert sell(live_server, token, test_bar, max_manager, name, amount)
    assert not sell(live_server, token, test_bar, max_manager, "Zed", 900)  # unknown: refused, no sale
    ana = ServerFactory(username="ana")
    as_client(max_manager.pk, "INSERT INTO consignments (bar_id, server_id, created_by, server_name, customer_name, "
              "amount, created_at) VALUES (%(bar)s, %(server)s, %(me)s, 'Ana', 'Chez Paul', 4000, now())",
              {"bar": test_bar.pk, "server": ana.pk, "me": max_manager.pk})  # fmt: skip
    as_client(max_manager.pk, "INSERT INTO returns (bar_id, server_id, created_by, reason, amount, created_at) "
              "VALUES (%(bar)s, %(server)s, %(me)s, 'wrong drink', 300, now())",
              {"bar": test_bar.pk, "server": ana.pk, "me": max_manager.pk})  # fmt: skip

    # The cockpit refreshes itself: every measured item fills in; only the analytics item waits for a person.
    expect(page.locator(ITEM.format("role_filtering"))).to_have_attribute("data-passed", "yes", timeout=15_000)
    for key in ("sales_created", "server_id_correct", "mapping_resolution", "error_blocking",
                "consignments_returns", "logs_clean"):  # fmt: skip
        expect(page.locator(ITEM.format(key))).to_have_attribute("data-passed", "yes")
    expect(page.locator(ITEM.format("error_blocking"))).to_contain_text("“Zed” (unknown_server_name)")
    expect(page.locator(ITEM.format("role_filtering"))).to_contain_text("Ana Server sees their 3 sales and none")
    analytics = page.locator(ITEM.format("server_analytics"))
    expect(analytics).to_have_attribute("data-passed", "no")
    expect(analytics.locator("table")).to_contain_text("Ana Server")
    expect(page.locator("#checklist-count")).to_have_text("7 of 8 done")
    checklist.screenshot(path=str(ARTIFACTS / "checklist-4a-1300.png"))
    page.set_viewport_size({"width": 390, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    checklist.screenshot(path=str(ARTIFACTS / "checklist-4a-390.png"))
    page.set_viewport_size({"width": 1300, "height": 1000})

    # A bad link is refused on the page and changes nothing.
    page.fill("#attest-url-server_analytics", "analytics screenshot")
    page.fill("#attest-note-server_analytics", "Per-server totals match the app's Analytics tab")
    page.click("#attest-server_analytics")
    expect(page.locator(".messages li.error")).to_contain_text("is not a web address: give an http or https link")
    assert not RolloutEvent.objects.filter(kind=EventKind.CHECKLIST_ATTEST).exists()

    page.fill("#attest-url-server_analytics", "https://tickets.example.com/QA-4a-analytics")
    page.fill("#attest-note-server_analytics", "Per-server totals match the app's Analytics tab")
    page.click("#attest-server_analytics")
    expect(page.locator(".messages li.success")).to_contain_text("Attested")
    expect(page.locator(ITEM.format("server_analytics"))).to_have_attribute("data-passed", "yes")
    expect(page.locator("#checklist-count")).to_have_text("8 of 8 done")
    expect(checklist).to_have_attribute("data-complete", "yes")
    event = RolloutEvent.objects.get(kind=EventKind.CHECKLIST_ATTEST)
    assert event.actor == owner and event.after["url"] == "https://tickets.example.com/QA-4a-analytics"
    checklist.screenshot(path=str(ARTIFACTS / "checklist-4a-complete-1300.png"))

    # The 4b gate opens, and stage 4b starts with one confirmation.
    HealthRun.objects.create(started_at=timezone.now(), finished_at=timezone.now(), status=CheckStatus.OK)
    compare_cohorts(now=timezone.now())  # the cohort figures the beat stores every minute for the cockpit
    page.reload()
    gate = page.locator("#step-stage_4b li[data-gate=checklist_4a]")
    expect(gate).to_have_class("gate pass")
    expect(gate).to_contain_text("All 8 items done")
    expect(page.locator("#step-stage_4b .gate.fail")).to_have_count(0)
    page.check("#confirm-stage_4b")
    page.click("#action-stage_4b")
    expect(page.locator("#cockpit-stage")).to_have_text("4b 50%")
    assert RolloutState.objects.get().stage == "4b"
