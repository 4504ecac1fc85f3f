"""Rollback Option B run by the panel (issue 20): the CI/CD deploy hook asked for an earlier build, the health URL
polled until it serves it; recorded, audited, told to the open incident. A local HTTP server stands in for both the
hook and BarTender's health URL; the polling clock is driven, never slept through."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from adminpanel.models import PanelEvent
from monitoring.models import Incident
from rollout import errors
from rollout.killswitch import services
from rollout.models import CodeRollback, EventKind, RolloutEvent
from rollout.runbook import code_rollback
from tests.factories import confirmed_post, make_product

OLD, NEW = "build-0001", "build-0002"


class Stand:
    """The hook (POST /hook, answers `hook_status`) and the health URL (GET /health, serves `serving`)."""

    def __init__(self):
        self.hook_status = 202
        self.serving = NEW
        self.calls: list[dict] = []
        self.redirect_to = ""


@pytest.fixture
def stand(settings):
    state = Stand()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            state.calls.append({"body": body, "auth": self.headers.get("Authorization")})
            if state.redirect_to:
                self.send_response(302)
                self.send_header("Location", state.redirect_to)
                self.end_headers()
                return
            self.send_response(state.hook_status)
            self.end_headers()
            if state.hook_status == 202:  # the deploy happens: the health URL serves the asked build from now on
                state.serving = body["build"]

        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(json.dumps({"status": "ok", "build": state.serving}).encode())

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    settings.BARTENDER_DEPLOY_HOOK_URL = f"{base}/hook"
    settings.BARTENDER_DEPLOY_HOOK_TOKEN = "s3cret-token"
    settings.BARTENDER_HEALTH_URL = f"{base}/health"
    settings.PHASE3_POLL_SECONDS, settings.PHASE3_POLL_TIMEOUT_SECONDS = 5.0, 30.0
    yield state
    server.shutdown()
    server.server_close()


class Clock:
    """A driven clock: sleeping moves it, nothing waits."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def owner(db):
    from django.contrib.auth.models import Permission

    user = make_product(username="on_call")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="rollout", codename="trigger_rollback"))
    return type(user).objects.get(pk=user.pk)


def run(rollback):
    clock = Clock()
    return code_rollback.execute_code_rollback(rollback_id=rollback.pk, sleep=clock.sleep, clock=clock)


def test_the_hook_deploys_the_build_and_the_health_url_is_watched_until_it_serves_it(stand, owner):
    stand.serving = NEW
    services.pull_kill_switch(actor=owner, reason="resolution errors after deploy")
    incident = Incident.objects.get()
    rollback = code_rollback.request_code_rollback(actor=owner, build=OLD, reason="bad resolution logic")
    done = run(rollback)
    assert done.status == CodeRollback.Status.DONE and done.hook_status == 202
    assert stand.calls == [{"body": {"build": OLD, "reason": "bad resolution logic", "requested_by": "on_call",
                                     "rollback": rollback.pk}, "auth": "Bearer s3cret-token"}]  # fmt: skip
    assert f"serves it after {done.tries} try" in done.summary
    event = RolloutEvent.objects.get(kind=EventKind.CODE_ROLLBACK)
    assert event.after["build"] == OLD and event.after["status"] == "done" and event.actor_name == "on_call"
    assert PanelEvent.objects.filter(action="code_rollback.request").exists()
    assert "Code rollback (Option B)" in incident.updates.get().message
    assert code_rollback.execute_code_rollback(rollback_id=rollback.pk) is None  # a redelivered task does nothing


def test_a_refusing_hook_deploys_nothing_and_says_so(stand, owner):
    stand.hook_status = 500
    done = run(code_rollback.request_code_rollback(actor=owner, build=OLD, reason="x"))
    assert done.status == CodeRollback.Status.HOOK_FAILED and done.tries == 0
    assert "Nothing was deployed: the deploy hook answered HTTP 500" in done.summary


def test_a_redirecting_hook_is_not_followed(stand, owner):
    stand.redirect_to = "http://127.0.0.1:9/elsewhere"
    done = run(code_rollback.request_code_rollback(actor=owner, build=OLD, reason="x"))
    assert done.status == CodeRollback.Status.HOOK_FAILED and "redirect" in done.summary
    assert len(stand.calls) == 1


def test_a_build_that_never_shows_times_out_on_the_driven_clock(stand, owner, monkeypatch):
    stand.hook_status = 200  # accepted, but the deploy never happens: the health URL keeps serving NEW
    done = run(code_rollback.request_code_rollback(actor=owner, build=OLD, reason="x"))
    assert done.status == CodeRollback.Status.TIMED_OUT and done.tries == 7  # 0, 5, … 30 s
    assert f"never answered 200 with build {OLD}" in done.summary


def test_only_a_holder_of_trigger_rollback_may_and_bad_input_changes_nothing(stand, owner, client_for):
    plain = make_product(username="no_rollback")
    client = client_for(plain)
    refused = client.post(reverse("rollout:code_rollback"), {"build": OLD, "reason": "x"})
    assert refused.status_code == 403 and not CodeRollback.objects.exists() and stand.calls == []
    forged = client.post(reverse("rollout:code_rollback"), {"build": OLD, "reason": "x", "confirm_token": "forged"})
    assert forged.status_code == 403 and not CodeRollback.objects.exists() and stand.calls == []
    page = client.get(reverse("rollout:page")).content.decode()
    assert 'id="code-rollback-form"' not in page and "rollout.trigger_rollback" in page

    client = client_for(owner)
    bad = client.post(reverse("rollout:code_rollback"), {"build": "no spaces!", "reason": "x"}, follow=True)
    assert "Enter the build hash to roll back to" in bad.content.decode()
    no_reason = client.post(reverse("rollout:code_rollback"), {"build": OLD, "reason": " "}, follow=True)
    assert "needs a reason" in no_reason.content.decode()
    assert not CodeRollback.objects.exists() and stand.calls == []


def test_without_the_hook_the_page_shows_the_manual_procedure(settings, owner, client_for):
    settings.BARTENDER_DEPLOY_HOOK_URL = ""
    page = client_for(owner).get(reverse("rollout:page")).content.decode()
    assert "git revert" in page and 'id="code-rollback-form"' not in page
    with pytest.raises(errors.RolloutError, match="manual procedure"):
        code_rollback.request_code_rollback(actor=owner, build=OLD, reason="x")


def test_the_page_runs_it_through_the_worker_and_shows_the_outcome(stand, owner, client_for, eager_celery, settings):
    settings.PHASE3_POLL_SECONDS = 0.01  # the worker's real sleep: the build is served at the first try anyway
    client = client_for(owner)
    data = {"build": OLD, "reason": "bad release"}
    page = confirmed_post(client, reverse("rollout:code_rollback"), data, follow=True)
    html = page.content.decode()
    rollback = CodeRollback.objects.get()
    assert rollback.status == CodeRollback.Status.DONE and rollback.tries == 1
    assert f"Code rollback #{rollback.pk} to {OLD}" in html and 'data-status="done"' in html


def test_it_is_confirmed_once_on_a_page_naming_the_hook_the_build_and_what_serves_now(stand, owner, client_for):
    client = client_for(owner)
    url = reverse("rollout:code_rollback")
    first = client.post(url, {"build": OLD, "reason": "bad release"})
    html = first.content.decode()
    assert first.status_code == 200 and f"Roll the code back to build {OLD} (Option B)" in html
    assert "127.0.0.1" in html and f"build {NEW}" in html and 'name="confirm_token"' in html
    assert not CodeRollback.objects.exists() and stand.calls == []  # the page changed nothing, called nothing
    assert not PanelEvent.objects.filter(action="code_rollback.request").exists()
    token = html.split('name="confirm_token" value="')[1].split('"')[0]
    other = client.post(url, {"build": "build-0003", "reason": "bad release", "confirm_token": token})
    assert "What you confirmed has changed" in other.content.decode() and not CodeRollback.objects.exists()
    client.post(url, {"build": OLD, "reason": "bad release", "confirm_token": token})
    assert CodeRollback.objects.get().build == OLD
    replay = client.post(url, {"build": OLD, "reason": "bad release", "confirm_token": token})
    assert "already used" in replay.content.decode() and CodeRollback.objects.count() == 1
