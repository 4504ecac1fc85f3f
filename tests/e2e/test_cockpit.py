"""A product owner walks the runbook in a real chromium, from Phase 1 to the start of stage 4a, on the cockpit.

Task work runs in-process (Celery eager), the Phase 3 health URL is a local HTTP server, and the 15-minute window's
clock is driven (its rows moved into the past, then the verdict is taken), never waited for.
"""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.utils import timezone
from guardian.shortcuts import assign_perm
from playwright.sync_api import expect

from adminpanel.models import MemberRole
from adminpanel.permissions import FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from backfill.backfill import run_backfill
from config.celery import app as celery_app
from monitoring.health import services as monitoring_services
from monitoring.models import CheckResult, CheckStatus, HealthRun, PhaseWindow
from rollout.models import FeatureFlag, RolloutState
from tests.factories import BarFactory, BarMemberFactory, SaleFactory, ServerFactory, make_product

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
ARTIFACTS = Path(django_settings.BASE_DIR) / "test-artifacts"
BUILD = "e2e0b1d5ea7"


@pytest.fixture
def health_url(settings):
    """The BarTender API's health URL, serving the build the deployer will enter."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"status": "ok", "build": BUILD}).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.BARTENDER_HEALTH_URL = f"http://127.0.0.1:{server.server_address[1]}/health"
    yield settings.BARTENDER_HEALTH_URL
    server.shutdown()
    server.server_close()


@pytest.fixture
def runbook_world(settings, tmp_path, health_url):
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.COCKPIT_POLL_SECONDS = 1
    settings.LOAD_TEST_TARGET_MS = 5_000.0  # a busy machine must not fail Phase 1, which stage 4a now needs passed
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    owner = make_product(username="po")
    for flag in FeatureFlag.objects.all():
        for perm in (FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK):
            assign_perm(perm, owner, flag)
    bars = BarFactory.create_batch(2, is_internal=True) + BarFactory.create_batch(6)
    for bar in bars:
        server = ServerFactory()
        BarMemberFactory(bar=bar, user=server, role=MemberRole.SERVER)
        SaleFactory.create_batch(5, bar=bar, server=server, created_by=server)
        SaleFactory.create_batch(1, bar=bar, created_by=server)  # the backfill finds its server by the fallback
    yield owner
    celery_app.conf.task_always_eager = before


def state_of(page, key):
    return page.get_attribute(f"#step-{key}", "data-state")


def shot(page, name):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"cockpit-{name}.png"), full_page=True)


def test_a_product_owner_walks_phase_1_to_the_start_of_4a_on_the_cockpit(login, page, live_server, runbook_world):
    owner = runbook_world
    page.set_viewport_size({"width": 390, "height": 900})
    login(owner)
    expect(page.locator("#cockpit")).to_be_visible()
    expect(page.locator("#next-step")).to_contain_text("Test suite and build (CI run)")
    shot(page, "1-start-390px")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Phase 1, step by step, each run by the panel (in-process here) and shown with its evidence.
    page.fill("#ci-url", "https://ci.example.com/bartender/runs/4242")
    page.click("#action-test_suite")
    expect(page.locator("#step-test_suite")).to_have_attribute("data-state", "passed")

    page.fill("#load-rate", "20")
    page.fill("#load-seconds", "1")
    page.check("#confirm-load_test")
    page.click("#action-load_test")
    expect(page.locator(".messages")).to_contain_text("Load test under Row Level Security")
    assert state_of(page, "load_test") == "passed"
    expect(page.locator("#step-load_test")).to_contain_text("p50/p95/p99")

    page.check("#confirm-rollback_rehearsal")
    page.click("#action-rollback_rehearsal")
    expect(page.locator("#step-rollback_rehearsal")).to_have_attribute("data-state", "passed")
    expect(page.locator("#step-rollback_rehearsal")).to_contain_text("sales and their server_ids unchanged")

    page.click("#action-backup")
    expect(page.locator("#step-backup")).to_have_attribute("data-state", "passed")
    expect(page.locator("#step-backup")).to_contain_text("pg_restore --list")

    page.click("#action-flags_off")
    expect(page.locator("#step-flags_off")).to_have_attribute("data-state", "passed")
    shot(page, "2-phase-1-done")

    # Phase 2: the migrations are in the migration table; the backfill runs, then the validation from the cockpit.
    assert state_of(page, "migrations") == "passed"
    run_backfill(started_by=owner)
    page.reload()
    expect(page.locator("#step-backfill")).to_have_attribute("data-state", "passed")
    page.click("#action-validation")
    page.wait_for_url(f"{live_server.url}/validation/")
    expect(page.locator(".messages")).to_contain_text("Validation passed")
    page.goto(f"{live_server.url}/")
    expect(page.locator("#step-validation")).to_have_attribute("data-state", "passed")

    # Stage 4a is still closed: the Phase 3 window has not run.
    expect(page.locator('#step-stage_4a .gate.fail[data-gate="phase3_window_passed"]')).to_be_visible()

    # The cockpit refreshes itself, but never while someone types in it: the poll is held, the text stays.
    page.fill("#build-hash", BUILD)
    page.wait_for_function("() => Number(document.body.dataset.pollsHeld || 0) >= 2")
    expect(page.locator("#build-hash")).to_have_value(BUILD)

    # Phase 3: the health URL serves the build, and the 15-minute window starts.
    page.click("#action-deploy_check")
    expect(page.locator("#step-deploy_check")).to_have_attribute("data-state", "passed")
    expect(page.locator("#step-phase3_window")).to_have_attribute("data-state", "running")
    shot(page, "3-phase-3-watching")

    # Drive the clock: the window's 15 minutes are behind us, a health run finished inside it, the verdict is taken.
    # The page is not reloaded: the cockpit's own refresh brings the verdict.
    window = PhaseWindow.objects.get(kind=PhaseWindow.Kind.PHASE3, verdict=PhaseWindow.Verdict.PENDING)
    start = timezone.now() - timedelta(minutes=16)
    PhaseWindow.objects.filter(pk=window.pk).update(started_at=start, ends_at=start + timedelta(minutes=15))
    inside = start + timedelta(minutes=5)
    run = HealthRun.objects.create(started_at=inside, finished_at=inside, status=CheckStatus.OK)
    # What that run read: the runbook's "should remain" numbers, the API's from its Prometheus.
    for name, value in {"api_error_rate": 0.02, "api_p95_latency": 180.0, "rls_violations": 0,
                        "db_connections": 12.0}.items():  # fmt: skip
        CheckResult.objects.create(run=run, check_name=name, status=CheckStatus.OK, value=value)
    CheckResult.objects.create(run=run, check_name="resolution_error_rate", status=CheckStatus.OK, value=0.0,
                               detail={"failures": 0, "resolved_sales": 40})  # fmt: skip
    monitoring_services.close_due_phase_windows()
    HealthRun.objects.create(started_at=timezone.now(), finished_at=timezone.now(), status=CheckStatus.OK)
    expect(page.locator("#step-phase3_window")).to_have_attribute("data-state", "passed", timeout=15_000)
    expect(page.locator("#step-stage_4a .gate.fail")).to_have_count(0)
    expect(page.locator("#next-step")).to_contain_text("Stage 4a")

    # Stage 4a: its gates pass, its blast radius is named, one confirmation, and it starts.
    expect(page.locator("#step-stage_4a .blast")).to_contain_text("Switches 2 bars to simplified mode")
    page.check("#confirm-stage_4a")
    page.click("#action-stage_4a")
    expect(page.locator("#cockpit-stage")).to_have_text("4a internal")
    expect(page.locator("#step-stage_4a")).to_have_attribute("data-state", "running")
    assert RolloutState.objects.get().stage == "4a"
    shot(page, "4-stage-4a-started")
