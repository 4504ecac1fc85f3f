"""Issue 25: the remaining security gaps, each refused or flattened on the server."""

import json
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from adminpanel import sessions
from monitoring.incidents import services as incidents
from rollout.models import RunbookRun, RunbookStep
from rollout.runbook import runs
from rollout.stages import services
from tests.factories import BarFactory, UserFactory, grant_owner, issue_api_token, make_product

pytestmark = pytest.mark.django_db

FORGED = "ok\n\nStatus: Resolved\n# All clear, no action needed <script>alert(1)</script>"


@pytest.mark.parametrize(
    ("who", "status"), [("manager", 403), ("plain_user", 403), ("support_user", 200), ("product_user", 200),
                        ("superuser", 200)],
)  # fmt: skip
def test_the_runbook_page_is_for_support_product_and_admins_only(request, client_for, who, status):
    response = client_for(request.getfixturevalue(who)).get("/runbook/")
    assert response.status_code == status
    assert ("pg_dump" in response.content.decode()) is (status == 200)


@pytest.fixture
def forged_incident(product_user):
    grant_owner(product_user)
    incident = incidents.open_incident(actor=product_user, severity="high", issue="Errors after the 4a advance")
    services.pause_rollout(actor=product_user, reason=FORGED)
    return incident


def test_an_injected_reason_cannot_forge_a_line_of_the_text_communication(forged_incident, client_for, support_user):
    response = client_for(support_user).get(f"/incidents/{forged_incident.pk}/communication.txt")
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert "Status: Resolved" not in lines and "Status: Investigating" in lines
    assert not any(line.startswith("# All clear") for line in lines)
    assert any("ok Status: Resolved # All clear" in line for line in lines)  # kept, on its own action's line


def test_an_injected_reason_cannot_forge_a_heading_or_html_in_the_markdown(forged_incident, client_for, support_user):
    response = client_for(support_user).get(f"/incidents/{forged_incident.pk}/communication.md")
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert not any(line.startswith(("#", "Status: Resolved")) for line in text.splitlines()[1:])
    assert "<script>" not in text and "\\<script\\>" in text


def test_the_deployment_record_escapes_what_people_typed(client_for, product_user):
    from rollout.models import DeploymentRecord

    reviewer = make_product(username="reviewer_b")
    record = DeploymentRecord.objects.create(
        date=timezone.localdate(), deployer=product_user, reviewer=reviewer, started_at=timezone.now(),
        issues_encountered="# Forged heading\n<script>alert(1)</script>",
    )  # fmt: skip
    response = client_for(product_user).get(reverse("rollout:record_markdown", args=[record.pk]))
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    text = response.content.decode()
    assert "<script>" not in text and "# Forged heading" not in text.replace("> \\# Forged heading", "")


def test_a_lone_surrogate_in_a_resolution_request_is_a_json_400(client):
    bar = BarFactory()
    token = issue_api_token()
    response = client.post(
        f"/api/v1/bars/{bar.pk}/resolve-server", data='{"name": "\\ud800"}', content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )  # fmt: skip
    assert response.status_code == 400 and response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"] == "invalid_request"


def test_posting_to_the_explain_api_is_a_json_405_not_a_csrf_page(client):
    client = type(client)(enforce_csrf_checks=True)
    response = client.post("/api/v1/flags/explain?bar=x", data="{}", content_type="application/json")
    assert response.status_code == 405 and response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET" and json.loads(response.content)["error"] == "method_not_allowed"


@pytest.mark.parametrize("path", ["/", "/rollout/", "/monitoring/", "/rollout/backups/", "/incidents/contacts/",
                                  "/backfill/", "/runbook/", "/incidents/"])  # fmt: skip
def test_every_page_behind_a_login_says_no_store(client_for, superuser, path):
    response = client_for(superuser).get(path)
    assert response.status_code == 200, path
    assert response["Cache-Control"] == "no-store"


def test_the_token_api_keeps_its_own_caching(client):
    token, bar = issue_api_token(), BarFactory()
    answer = client.get(f"/api/v1/flags?bar={bar.pk}", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert answer.status_code == 200 and answer["Cache-Control"] == "private, no-cache" and answer["ETag"]


class Clock:
    def __init__(self):
        self.now = time.time()

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    driven = Clock()
    monkeypatch.setattr(sessions.time, "time", driven)
    return driven


def test_an_idle_session_ends_and_the_next_page_asks_for_the_login_again(client_for, support_user, clock, settings):
    client = client_for(support_user)
    assert client.get("/").status_code == 200
    clock.now += settings.SESSION_IDLE_TIMEOUT_SECONDS - 30
    assert client.get("/").status_code == 200  # active: the idle clock starts again
    clock.now += settings.SESSION_IDLE_TIMEOUT_SECONDS - 30
    assert client.get("/").status_code == 200
    clock.now += settings.SESSION_IDLE_TIMEOUT_SECONDS + 1
    refused = client.get("/rollout/")
    assert refused.status_code == 302 and refused["Location"].startswith(reverse("login"))
    assert client.get("/").status_code == 302  # the session is gone


def test_an_active_session_still_ends_at_its_absolute_lifetime(client_for, support_user, clock, settings):
    client = client_for(support_user)
    assert settings.SESSION_ABSOLUTE_LIFETIME_SECONDS < 14 * 24 * 3600
    step = settings.SESSION_IDLE_TIMEOUT_SECONDS // 2
    elapsed = 0
    while elapsed + step < settings.SESSION_ABSOLUTE_LIFETIME_SECONDS:
        clock.now += step
        elapsed += step
        assert client.get("/").status_code == 200
    clock.now += settings.SESSION_ABSOLUTE_LIFETIME_SECONDS - elapsed + 1  # well within the idle timeout
    assert client.get("/").status_code == 302


def test_a_staff_account_that_is_not_a_superuser_does_not_reach_the_django_admin(client_for):
    staff = UserFactory(username="staff_not_super", is_staff=True)
    response = client_for(staff).get("/django-admin/")
    assert response.status_code == 302 and "/django-admin/login/" in response["Location"]


def test_a_product_owner_without_trigger_rollback_may_not_waive_the_rehearsal(client_for, product_user):
    grant_owner(product_user)
    assert not product_user.has_perm("rollout.trigger_rollback")
    response = client_for(product_user).post(
        reverse("rollout:runbook_waive", args=[RunbookStep.ROLLBACK_REHEARSAL]), {"reason": "no time"}
    )
    assert response.status_code == 403
    assert not RunbookRun.objects.filter(step=RunbookStep.ROLLBACK_REHEARSAL).exists()
    product_user.user_permissions.add(Permission.objects.get(codename="trigger_rollback"))
    fresh = type(product_user).objects.get(pk=product_user.pk)
    run = runs.waive_step(actor=fresh, step=RunbookStep.ROLLBACK_REHEARSAL, reason="rehearsed on staging")
    assert run.status == RunbookRun.Status.WAIVED and run.created_at <= timezone.now() + timedelta(seconds=1)
