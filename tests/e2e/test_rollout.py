import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from adminpanel.permissions import FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from monitoring.models import CheckStatus, HealthRun
from rollout.models import FeatureFlag, RolloutState
from rollout.stages import services
from tests.factories import BarFactory, backdate_soak, make_product, meet_4a_checklist, meet_runbook_prerequisites

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_product_owner_advances_4a_to_4b_then_pulls_the_kill_switch(login, page, live_server):
    owner = make_product(username="po")
    for flag in FeatureFlag.objects.all():
        for perm in (FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK):
            assign_perm(perm, owner, flag)
    BarFactory.create_batch(2, is_internal=True)
    BarFactory.create_batch(40)
    now = timezone.now()
    HealthRun.objects.create(started_at=now, finished_at=now, status=CheckStatus.OK)
    meet_runbook_prerequisites()
    services.advance_stage(actor=owner, expected_version=RolloutState.objects.get().version)
    backdate_soak(hours=25)  # 4a soaked 25 healthy hours, with sales on both sides for the cohort gate
    meet_4a_checklist()  # and its Internal Testing Checklist is complete (tests/e2e/test_checklist_4a.py walks it)

    login(owner)
    page.click("nav >> text=Rollout")
    page.wait_for_url(f"{live_server.url}/rollout/")
    assert page.inner_text("#current-stage") == "4a internal"
    assert page.locator("#gates .gate.fail").count() == 0
    assert page.locator("#gates .gate.pass").count() == 5  # health, alerts, soak, the 4a checklist, cohort
    assert page.locator("#gates .gate.pass[data-gate=checklist_4a]").count() == 1
    before = int(page.inner_text("#stage-4b .simplified"))

    page.click("#advance")
    page.wait_for_selector("#blast")  # one confirmation, with the number of bars it switches
    assert "Advance to 4b 50% switches" in page.inner_text("#blast")
    page.click("#confirm-action")
    page.wait_for_selector(".messages li.success")
    assert page.inner_text("#current-stage") == "4b 50%"
    after = int(page.inner_text("#stage-4b .simplified"))
    assert after > before
    assert int(page.inner_text("#stage-4b .switched")) > 0

    page.click("#kill-switch")
    page.wait_for_url(f"{live_server.url}/rollout/kill-switch/")
    page.fill("input[name=reason]", "error rate above 1 %")
    page.check("input[name=confirm]")
    page.click("#confirm-kill-switch")
    page.wait_for_url(f"{live_server.url}/rollout/")
    for key in ("ENABLE_SWITCHING_MODE", "SHOW_SWITCHING_MODE_UI"):
        assert page.get_attribute(f"#flag-{key} .flag-state", "data-state") == "off"
    assert page.locator("#kill-switch-engaged").is_visible()
    assert page.locator("#kill-switch-banner").is_visible()
