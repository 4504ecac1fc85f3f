"""Runbook 3.2/3.3: the health URL polled for 200 and the deployed build hash, then the 15-minute window."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from monitoring.models import PhaseWindow
from rollout.models import RunbookRun, RunbookStep
from rollout.runbook import phase1, phase3, runs

pytestmark = pytest.mark.runs_phase1


class FakeBarTender:
    """The BarTender API's health URL on 127.0.0.1: answers with whatever status and build it is told."""

    def __init__(self):
        self.status, self.body, self.hits = 200, {"status": "ok", "build": "old0000"}, 0
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/health"

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                fake.hits += 1
                body = fake.body if isinstance(fake.body, bytes) else json.dumps(fake.body).encode()
                self.send_response(fake.status)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        return Handler


@pytest.fixture
def bartender(settings):
    fake = FakeBarTender()
    fake.thread.start()
    settings.BARTENDER_HEALTH_URL = fake.url
    settings.PHASE3_POLL_SECONDS = 5
    settings.PHASE3_POLL_TIMEOUT_SECONDS = 60
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


class Clock:
    """A clock that only moves when the code under test sleeps (no real waiting)."""

    def __init__(self, on_sleep=None):
        self.now, self.sleeps, self.on_sleep = 1000.0, [], on_sleep

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep(len(self.sleeps))


def test_it_polls_until_the_new_build_serves_then_starts_the_phase_3_window(owner, bartender):
    bartender.status = 503

    def deploy_progresses(sleeps):
        if sleeps == 1:
            bartender.status = 200  # up again, still the old build
        if sleeps == 2:
            bartender.body = {"status": "ok", "build": "9f8e7d6c5b4a"}

    clock = Clock(deploy_progresses)
    outcome = phase3.verify_deployment(
        build_hash="9f8e7d6", actor=owner, progress=lambda *a: None, sleep=clock.sleep, clock=clock
    )
    assert outcome.passed and outcome.result["tries"] == 3 == bartender.hits
    assert [a["status"] for a in outcome.result["attempts"]] == [503, 200, 200]
    assert [a["matched"] for a in outcome.result["attempts"]] == [False, False, True]
    window = PhaseWindow.objects.get(pk=outcome.result["window"])
    assert window.kind == PhaseWindow.Kind.PHASE3 and window.verdict == PhaseWindow.Verdict.PENDING
    assert (window.ends_at - window.started_at).total_seconds() == 15 * 60 and window.started_by == owner
    assert "9f8e7d6c5b4a" in outcome.summary and "monitoring window started" in outcome.summary


def test_it_fails_when_the_build_never_shows_within_the_timeout(owner, bartender, settings):
    settings.PHASE3_POLL_TIMEOUT_SECONDS = 20
    clock = Clock()
    outcome = phase3.verify_deployment(
        build_hash="newbuild1", actor=owner, progress=lambda *a: None, sleep=clock.sleep, clock=clock
    )
    assert not outcome.passed and outcome.result["tries"] == 5 and sum(clock.sleeps) == 20
    assert "never answered 200 with build newbuild1" in outcome.summary and "old0000" in outcome.summary
    assert not PhaseWindow.objects.filter(kind=PhaseWindow.Kind.PHASE3, verdict="pending").exists()


def test_a_health_url_that_does_not_answer_is_reported_in_words(owner, settings):
    settings.BARTENDER_HEALTH_URL = "http://127.0.0.1:9/health"
    settings.PHASE3_POLL_TIMEOUT_SECONDS = 1
    clock = Clock()
    outcome = phase3.verify_deployment(
        build_hash="abcd1234", actor=owner, progress=lambda *a: None, sleep=clock.sleep, clock=clock
    )
    assert not outcome.passed and "no answer from http://127.0.0.1:9/health" in outcome.summary


def test_the_build_is_found_in_a_plain_text_answer_too(owner, bartender):
    bartender.body = b"OK build=release-2025.12.24 deployed"
    clock = Clock()
    outcome = phase3.verify_deployment(
        build_hash="release-2025.12.24", actor=owner, progress=lambda *a: None, sleep=clock.sleep, clock=clock
    )
    assert outcome.passed and not clock.sleeps


def test_through_the_run_the_step_passes_and_a_second_window_is_not_opened(owner, bartender):
    bartender.body = {"build": "cafe1234"}
    run = runs.request_run(actor=owner, step=RunbookStep.DEPLOY_CHECK, parameters={"build_hash": "cafe1234"})
    assert run.parameters == {"build_hash": "cafe1234", "url": bartender.url}
    run = runs.execute_run(run_id=run.pk)
    assert run.status == RunbookRun.Status.PASSED
    again = runs.execute_run(
        run_id=runs.request_run(actor=owner, step=RunbookStep.DEPLOY_CHECK, parameters={"build_hash": "cafe1234"}).pk
    )
    assert again.status == RunbookRun.Status.PASSED and "already running carries on" in again.summary
    assert PhaseWindow.objects.filter(kind=PhaseWindow.Kind.PHASE3, verdict="pending").count() == 1


@pytest.mark.parametrize("build", ["", "no spaces allowed", "x" * 101, "ab"])
def test_a_bad_build_hash_is_refused_before_anything_runs(owner, bartender, build):
    with pytest.raises(phase1.StepRefused, match="build hash"):
        runs.request_run(actor=owner, step=RunbookStep.DEPLOY_CHECK, parameters={"build_hash": build})
    assert not RunbookRun.objects.exists() and bartender.hits == 0


def test_without_a_health_url_the_step_says_which_setting_is_missing(owner, settings):
    settings.BARTENDER_HEALTH_URL = ""
    with pytest.raises(phase1.StepRefused, match="BARTENDER_HEALTH_URL is not set"):
        runs.request_run(actor=owner, step=RunbookStep.DEPLOY_CHECK, parameters={"build_hash": "abc12345"})
    settings.BARTENDER_HEALTH_URL = "file:///etc/passwd"
    with pytest.raises(phase1.StepRefused, match="http"):
        runs.request_run(actor=owner, step=RunbookStep.DEPLOY_CHECK, parameters={"build_hash": "abc12345"})
    assert not RunbookRun.objects.exists()


def test_the_flags_are_read_off_again_before_the_window_starts(owner, bartender, enable_flag):
    """Issue 21, runbook 3.1 "Feature flags still OFF": a flag on for a bar fails the verification, no window."""
    from tests.factories import BarFactory

    bartender.body = {"status": "ok", "build": "9f8e7d6c5b4a"}
    enable_flag.allowed_bars.add(BarFactory(name="Too early"))
    clock = Clock()
    outcome = phase3.verify_deployment(
        build_hash="9f8e7d6", actor=owner, progress=lambda *a: None, sleep=clock.sleep, clock=clock
    )
    assert not outcome.passed and "the flags must still be off" in outcome.summary
    assert "ENABLE_SWITCHING_MODE is on for 1 allow-listed bar(s)" in outcome.summary
    assert not PhaseWindow.objects.filter(verdict=PhaseWindow.Verdict.PENDING).exists()
