"""A product owner runs Phase 2 from the cockpit's Phase 2 page in a real chromium (issue 20): the dry run on a
scratch copy of the Phase 1 backup, then the six migration files applied one by one with their verification shown,
step 5 rolled back (after step 6, reverse order) and applied again. Task work runs in-process (Celery eager)."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings
from playwright.sync_api import expect

from backfill.models import MigrationStepRun
from backfill.phase2 import runner
from backfill.phase2.steps import STEPS
from config.celery import app as celery_app
from demo.seeding import seed_demo
from rollout.models import RunbookStep
from rollout.runbook import runs as runbook_runs
from tests.factories import make_product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"phase2-{name}.png"), full_page=True)


@pytest.fixture
def before_phase2(settings, tmp_path):
    """BarTender before Mode Switching, Phase 1's backup taken and the flags read off by the panel; a product owner
    holding rollout.apply_migration. The six steps are in place again afterwards."""
    from django.contrib.auth.models import Permission

    settings.BACKUP_DIR = tmp_path / "backups"
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    for step in reversed(STEPS):
        runner.rollback_step(step.version)
    seed_demo(bars=3, sales=120, seed=7)
    owner = make_product(username="deployer")
    owner.user_permissions.add(Permission.objects.get(content_type__app_label="rollout", codename="apply_migration"))
    for step in (RunbookStep.BACKUP, RunbookStep.FLAGS_OFF):
        run = runbook_runs.request_run(actor=owner, step=step, parameters={}, confirm=True, via="panel")
        runbook_runs.execute_run(run_id=run.pk)
    yield owner
    celery_app.conf.task_always_eager = before
    runner.apply_all()


def row(page, number):
    return page.locator(f"#step-{number}")


def test_the_six_steps_applied_from_the_page_step_5_rolled_back_and_applied_again(
    login, page, live_server, before_phase2
):
    login(before_phase2)
    page.goto(f"{live_server.url}/cockpit/phase2/")
    expect(page.locator("#apply-blocked")).to_contain_text("has no dry run")
    shot(page, "1-before-dry-run-1280px")

    page.click("#dry-run-start")
    expect(page.locator("#restore-summary")).to_have_attribute("data-status", "passed")
    expect(page.locator("#restore-steps")).to_contain_text("Step 6")
    expect(page.locator("#restore-tables")).to_contain_text("public.sales")
    shot(page, "2-dry-run-1280px")
    page.goto(f"{live_server.url}/rollout/restores/")  # every restore, and what a product owner may do there
    expect(page.locator("#restore-list")).to_contain_text("Phase 2 dry run")
    page.set_viewport_size({"width": 390, "height": 900})
    shot(page, "2-restores-390px")
    page.set_viewport_size({"width": 1280, "height": 900})

    page.goto(f"{live_server.url}/cockpit/phase2/")
    for step in STEPS:
        expect(row(page, step.number)).to_have_attribute("data-state", "not_applied")
        expect(row(page, step.number).locator(".dry-run-cell")).to_contain_text("passed")
        page.click("#apply-next")
        expect(page.locator(".messages")).to_contain_text(f"Step {step.number} applied")
        expect(row(page, step.number)).to_have_attribute("data-state", "applied")
        expect(row(page, step.number)).to_contain_text("passed")
    expect(page.locator("#phase2-actions")).to_contain_text("All six steps are applied")
    expect(row(page, 1)).to_contain_text("server_id")  # the verification query's output, on the page
    shot(page, "3-all-applied-1280px")
    page.set_viewport_size({"width": 390, "height": 900})
    shot(page, "3-all-applied-390px")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Runbook 2.2: undone in reverse order only, each with a reason; step 5 then applied again, then step 6.
    for number in (6, 5):
        page.fill("#rollback-reason", f"re-run step 5 after a review (undoing {number})")
        page.click("#rollback-last")
        expect(page.locator(".messages")).to_contain_text(f"Step {number} rolled back")
        expect(row(page, number)).to_have_attribute("data-state", "not_applied")
    expect(page.locator("#apply-next")).to_have_text("Apply step 5")
    page.click("#apply-next")
    expect(row(page, 5)).to_have_attribute("data-state", "applied")
    page.click("#apply-next")
    expect(row(page, 6)).to_have_attribute("data-state", "applied")
    shot(page, "4-step-5-again-1280px")

    assert runner.applied_versions() >= {step.version for step in STEPS}
    runs = MigrationStepRun.objects.filter(actor__username="deployer").order_by("started_at", "id")
    assert [(r.action, r.step_number) for r in runs if r.action != "dry_run"] == [
        *[("apply", n) for n in range(1, 7)], ("rollback", 6), ("rollback", 5), ("apply", 5), ("apply", 6),
    ]  # fmt: skip
    assert all(r.passed for r in runs)
