"""A product owner's main job, as a first-time user meets it (issue 14), at 1400 px and 390 px: the cockpit, the
health dashboard and a run, a flag flip and an advance each confirmed with their blast radius, the kill switch
engaged, seen as a state and released with a reason, the history in words, the records.

One browser page for the whole walk; ``PageReview.visit`` checks every screen (overflow, names of controls,
contrast, aria-live messages, leaked texts, console errors) and writes its screenshots under
test-artifacts/screenshots/product/.
"""

import pytest
from django.utils import timezone

from adminpanel.permissions import FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from monitoring.models import Alert, CheckResult, CheckStatus, HealthRun
from rollout.models import FeatureFlag
from tests.e2e.people import PageReview
from tests.factories import BarFactory, grant_owner, make_product, meet_runbook_prerequisites

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _health_run():
    now = timezone.now()
    run = HealthRun.objects.create(started_at=now, finished_at=now, status=CheckStatus.WARNING, duration_ms=412)
    coverage = CheckResult.objects.create(
        run=run, check_name="server_id_coverage", status="warning", value=97.1, duration_ms=310,
        threshold="critical < 95 %, warning < 98 %",
        detail={"sales": 1234, "with_server_id": 1198, "window_hours": 24, "sample_text": "1,234 sales"},
    )  # fmt: skip
    CheckResult.objects.create(
        run=run, check_name="error_logs", status="ok", value=0, duration_ms=4,
        threshold="critical: error rate > 1 %, warning > 0 errors",
        detail={"errors": 0, "sales": 88, "error_rate_pct": 0.0, "window_minutes": 5, "sample_text": "88 sales"},
    )  # fmt: skip
    CheckResult.objects.create(
        run=run, check_name="indexes_usable", status="ok", value=0, duration_ms=9,
        threshold="warning: sequential scan (unusable index, or chosen on a table of 10000+ rows)",
        detail={"problems": [], "plans": {"server_id": {"chosen": [{"node": "Index Only Scan", "relation": "sales",
                "index": "sales_server_id_idx"}], "index_only": []}}},
    )  # fmt: skip
    Alert.objects.create(
        check_name="server_id_coverage", severity="warning", opened_by_result=coverage, last_result=coverage
    )
    return run


def test_a_product_owner_advances_kills_and_releases_with_pages_that_explain_themselves(login, page, live_server):
    owner = grant_owner(
        make_product(username="pat", display_name="Pat Product"), FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
    )
    BarFactory.create_batch(2, is_internal=True)
    BarFactory.create_batch(10)
    meet_runbook_prerequisites()
    run = _health_run()
    review = PageReview(page)
    url = live_server.url

    login(owner)
    assert page.locator("#cockpit").is_visible()
    review.visit("product", "home")

    page.goto(f"{url}/monitoring/")
    assert "Sales that carry a server (last 24 h)" in page.inner_text("#health-status")
    assert "of 1,234 sales in the last 24 h" in page.inner_text("#health-status")
    review.visit("product", "health")

    page.click(f"a[href='/monitoring/runs/{run.pk}/']")
    page.wait_for_url(f"{url}/monitoring/runs/{run.pk}/")
    page.click("text=For engineers: query plans (EXPLAIN)")
    assert page.locator("table.plans").is_visible()
    review.visit("product", "run")

    page.goto(f"{url}/monitoring/alerts/")
    review.visit("product", "alerts")

    page.goto(f"{url}/rollout/")
    assert page.inner_text("#flag-ENABLE_SWITCHING_MODE .flag-state") == "Off — 0 bars"
    review.visit("product", "rollout")

    # A flag flip asks once, saying how many bars it turns on, with its undo.
    page.select_option("#flip-state-SHOW_SWITCHING_MODE_UI", "global")
    page.fill("#flip-reason-SHOW_SWITCHING_MODE_UI", "UI ready for everyone")
    page.click("text=Flip SHOW_SWITCHING_MODE_UI…")
    page.wait_for_selector("#blast")
    assert "Turns SHOW_SWITCHING_MODE_UI on for every bar: 12 bars" in page.inner_text("#blast")
    assert "Undo" in page.inner_text("#undo")
    review.visit("product", "flip-confirm")
    page.click("#confirm-action")
    page.wait_for_selector(".messages li.success")
    assert page.inner_text("#flag-SHOW_SWITCHING_MODE_UI .flag-state") == "On for every bar"

    # Advancing asks once, with the number of bars it switches.
    page.fill("#advance-form input[name=override_reason]", "walk-through: the coverage warning is known")
    page.click("#advance")
    page.wait_for_selector("#blast")
    assert "Advance to 4a internal switches 2 bars" in page.inner_text("#blast")
    review.visit("product", "advance-confirm")
    page.click("#confirm-action")
    page.wait_for_selector(".messages li.success")
    assert page.inner_text("#current-stage") == "4a internal"

    # The kill switch: its blast radius, then a visible state; the controls it holds are gone.
    page.click("#kill-switch")
    page.wait_for_selector("#blast")
    assert "Turns simplified mode off for 12 bars" in page.inner_text("#blast")
    review.visit("product", "kill-switch-confirm")
    page.fill("input[name=reason]", "error rate above 1 % in 4a")
    page.check("input[name=confirm]")
    page.click("#confirm-kill-switch")
    page.wait_for_selector("#kill-switch-banner")
    banner = page.inner_text("#kill-switch-banner")
    assert "Kill switch engaged" in banner and "by pat" in banner and "error rate above 1 % in 4a" in banner
    assert page.locator("#advance, #pause-toggle, #kill-switch").count() == 0
    page.goto(f"{url}/rollout/")  # the banner is a state, not a message: it stays on every later visit
    assert page.locator("#kill-switch-banner").is_visible()
    review.visit("product", "rollout-kill-switch-engaged")

    # One release, with a reason.
    page.click("#release-kill-switch")
    page.wait_for_selector("#blast")
    assert "Turns both flags back on for the 2 bars on their allow-lists" in page.inner_text("#blast")
    review.visit("product", "release-confirm")
    page.fill("input[name=reason]", "fix deployed in 1.2.4")
    page.check("input[name=confirm]")
    page.click("#confirm-release")
    page.wait_for_selector(".messages li.success")
    assert page.locator("#kill-switch-banner").count() == 0
    assert FeatureFlag.objects.filter(kill_switch_engaged=True).count() == 0

    page.goto(f"{url}/rollout/history/")
    history = page.inner_text("main")
    assert "Kill switch released" in history and "fix deployed in 1.2.4" in history
    assert "SHOW_SWITCHING_MODE_UI: on for allow-listed bars only → on for every bar" in history
    review.visit("product", "history")

    page.goto(f"{url}/rollout/records/")
    review.visit("product", "records")

    page.goto(f"{url}/runbook/#critical-alerts-requires-immediate-action")
    review.visit("product", "runbook")
