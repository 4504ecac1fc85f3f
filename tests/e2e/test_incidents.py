"""Browser test of issue 12: the kill switch fires → its incident appears with its impact → an update is posted →
the communication template is copied with one click. Screenshots (desktop and 390 px) go to test-artifacts/."""

from pathlib import Path

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from adminpanel.models import AuditLog, OperatingMode, Sale
from adminpanel.permissions import FLIP_FLAG, TRIGGER_ROLLBACK
from monitoring.incidents import escalation
from monitoring.models import Contact, ContactTier, Incident
from rollout.models import FeatureFlag
from tests.factories import AuditLogFactory, BarFactory, make_product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture
def page(browser):
    """A page whose origin may use the clipboard (the copy button writes it, the test reads it back)."""
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"incidents-{name}.png"), full_page=True)


def test_kill_switch_opens_an_incident_with_impact_an_update_is_posted_and_the_template_copied(
    login, page, live_server
):
    owner = make_product(username="po", display_name="Pat Product")
    for flag in FeatureFlag.objects.all():
        assign_perm(FLIP_FLAG, owner, flag)
        assign_perm(TRIGGER_ROLLBACK, owner, flag)
    dev = ContactTier.objects.get(position=1)
    Contact.objects.create(tier=dev, name="Awa Diop", phone="+225 07 11 22 33", email="awa@example.com")
    switched = [BarFactory(name=f"Maquis {n}", settings={"operatingMode": OperatingMode.SIMPLIFIED}) for n in (1, 2)]
    BarFactory(name="Le Plateau")

    login(owner)
    page.click("nav >> text=Rollout")
    page.click("#kill-switch")
    page.fill("input[name=reason]", "orphaned sales in simplified bars")
    page.check("input[name=confirm]")
    page.click("#confirm-kill-switch")
    page.wait_for_url(f"{live_server.url}/rollout/")

    # The app keeps selling in the switched bars: sales without server_id and an error, after the switch.
    later = timezone.now()
    Sale.objects.bulk_create(Sale(bar=switched[0], amount=10, created_at=later) for _ in range(3))
    AuditLogFactory(bar=switched[1], level=AuditLog.Level.ERROR, created_at=later, error_message="server_id missing")

    page.click("nav >> text=Incidents")
    page.wait_for_url(f"{live_server.url}/incidents/")
    incident = Incident.objects.get()
    row = page.locator(f"#incident-row-{incident.pk}")
    assert "Critical" in row.inner_text()
    assert "Kill switch pulled by Pat Product: orphaned sales in simplified bars." in row.inner_text()
    row.locator("th a").click()
    page.wait_for_url(f"{live_server.url}/incidents/{incident.pk}/")
    # The incident clock (Celery beat, every minute) measures the impact again; the page shows the new figures.
    escalation.run_incident_clock()
    page.reload()
    assert page.inner_text("#impact-bars .value") == "2"
    assert page.inner_text("#impact-sales .value") == "3"
    assert page.inner_text("#impact-errors .value") == "1"
    assert "Kill switch" in page.inner_text("#actions-taken")
    assert "orphaned sales in simplified bars" in page.inner_text("#actions-taken")
    assert "Development team" in page.inner_text("#incident-escalation")

    page.select_option("#id_status", "mitigating")
    page.fill("#id_message", "Kill switch holds; checking the orphaned sales per bar.")
    page.select_option("#id_next_update_in", "30")
    page.click("#post-update")
    page.wait_for_selector(".messages li.success")
    assert page.get_attribute("#incident-status", "data-status") == "mitigating"
    assert "checking the orphaned sales per bar" in page.inner_text("#update-list")
    assert "Acknowledged by" in page.inner_text("#incident-escalation")

    template = page.inner_text("#communication-text")
    assert template.startswith("INCIDENT: Mode Switching Deployment Issue")
    assert "Status: Mitigating" in template and "Severity: Critical" in template
    assert "Impact: 2 bars affected (2 in simplified mode, 1 with errors), 3 sales affected" in template
    assert "Contact: Awa Diop (Development team), +225 07 11 22 33" in template
    page.click("#copy-communication")
    page.wait_for_function("() => document.getElementById('copy-status').textContent.startsWith('Copied')")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.text_content("#communication-text")
    shoot(page, "incident-desktop")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing runs off the side
    overflow = page.evaluate(
        "[...document.querySelectorAll('main section.card')].filter(s => s.scrollWidth > s.clientWidth + 1).length"
    )
    assert overflow == 0
    shoot(page, "incident-390px")

    page.click("#root-cause-link")
    page.wait_for_url(f"{live_server.url}/incidents/{incident.pk}/root-cause/")
    assert page.inner_text("#rca-orphans .rca-figure .value") == "3"
    shoot(page, "root-cause-390px")
