"""Browser: a product owner turns the autopilot on at 4a with a short soak; it advances to 4b by itself; harm
seeded on the switched bars makes it pause the rollout, and the gate says "harm". The beat task's function is
driven from the test (no waiting for beat); the page is reloaded after each tick, as a person would."""

from pathlib import Path

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from adminpanel.permissions import FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from monitoring.models import CheckStatus, HealthRun
from rollout.models import EventKind, FeatureFlag, RolloutEvent, RolloutState
from rollout.tasks import autopilot_tick
from tests.factories import (
    BarFactory,
    advance,
    backdate_soak,
    make_product,
    meet_4a_checklist,
    meet_runbook_prerequisites,
    seed_traffic,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def fresh_health_run():
    now = timezone.now()
    HealthRun.objects.create(started_at=now, finished_at=now, status=CheckStatus.OK)


def test_the_autopilot_advances_4a_to_4b_by_itself_then_pauses_on_harm(login, page, live_server, settings):
    ARTIFACTS.mkdir(exist_ok=True)
    settings.ROLLOUT_SOAK_HOURS = {"4a": 1, "4b": 24, "4c": 24}  # a short soak for 4a
    owner = make_product(username="po")
    for flag in FeatureFlag.objects.all():
        for perm in (FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK):
            assign_perm(perm, owner, flag)
    BarFactory.create_batch(2, is_internal=True)
    BarFactory.create_batch(40)
    fresh_health_run()
    meet_runbook_prerequisites()  # Phases 2 and 3 done: stage 4a may start
    advance(owner)
    backdate_soak(hours=2)  # 4a ran two healthy hours: more than its soak, with figures on both sides
    meet_4a_checklist()  # and its Internal Testing Checklist is complete (tests/e2e/test_checklist_4a.py walks it)

    login(owner)
    page.goto(f"{live_server.url}/rollout/")
    assert page.inner_text("#current-stage") == "4a internal"
    assert page.get_attribute("#autopilot-state", "data-enabled") == "false"
    page.fill("#autopilot-form input[name=reason]", "let it run overnight")
    page.check("#autopilot-form input[name=confirm]")
    page.click("#autopilot-on")
    page.wait_for_selector(".messages li.success")
    assert page.get_attribute("#autopilot-state", "data-enabled") == "true"
    assert "Next automatic step at" in page.inner_text("#autopilot-next")
    assert page.locator("#take-manual-control").is_visible()
    page.screenshot(path=str(ARTIFACTS / "autopilot-on-4a.png"), full_page=True)

    assert autopilot_tick.apply().get() == "advanced"  # what beat would run
    page.reload()
    assert page.inner_text("#current-stage") == "4b 50%"
    assert not page.locator("#paused").count()
    assert page.locator("#recent tr[data-kind=stage_advance]").first.locator("td").nth(1).inner_text() == "autopilot"
    page.screenshot(path=str(ARTIFACTS / "autopilot-advanced-4b.png"), full_page=True)

    # Harm: the bars switched so far lose server_ids, the bars not yet switched do not.
    backdate_soak(hours=2, traffic=None)
    seed_traffic(switched=400, control=800, hours=2, switched_coverage=0.8)
    fresh_health_run()
    assert autopilot_tick.apply().get() == "paused"
    page.reload()
    assert page.locator("#paused").is_visible()
    assert page.inner_text("#current-stage") == "4b 50%"
    gate = page.locator("#gates li[data-gate=cohort_vs_control]")
    assert "fail" in gate.get_attribute("class") and "harm: coverage" in gate.inner_text()
    assert page.get_attribute("#cohort-verdict", "data-verdict") == "harm"
    pause = RolloutEvent.objects.get(kind=EventKind.STAGE_PAUSE)
    assert pause.actor_name == "autopilot" and "harm: coverage" in pause.reason
    assert RolloutState.objects.get().paused
    page.screenshot(path=str(ARTIFACTS / "autopilot-paused-harm.png"), full_page=True)

    page.click("#take-manual-control")
    page.wait_for_selector(".messages li.success")
    assert page.get_attribute("#autopilot-state", "data-enabled") == "false"


def test_the_explain_page_picks_a_bar_by_name_and_explains_it(login, page, live_server):
    support = make_product(username="looker")
    BarFactory(name="Maquis Baobab", is_internal=True)
    BarFactory(name="Chez Fatou")
    login(support)
    page.goto(f"{live_server.url}/rollout/explain/")
    page.fill("#bar-search", "baob")
    page.wait_for_selector("#bar-matches >> text=Maquis Baobab")
    assert "Chez Fatou" not in page.inner_text("#bar-matches")
    page.click("#bar-matches >> text=Maquis Baobab")
    page.wait_for_selector("#explanation")
    assert page.inner_text("#explain-stage") == "off"
    assert page.get_attribute("#explain-ENABLE_SWITCHING_MODE", "data-value") == "off"
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "explain-390px.png"), full_page=True)
    width = page.evaluate("document.querySelector('main').scrollWidth")
    assert width <= 390, f"the explanation scrolls sideways at 390 px ({width} px wide)"
