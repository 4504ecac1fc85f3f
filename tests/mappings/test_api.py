"""POST /api/v1/bars/<bar_id>/resolve-server: token auth, 200 or 422 with a code, an audit row per refusal."""

import json

import pytest
from django.urls import reverse

from adminpanel.models import ApiClient, AuditLog, BarMember

pytestmark = pytest.mark.django_db


def resolve(client, bar_id, body, token=None, **extra):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(
        f"/api/v1/bars/{bar_id}/resolve-server", data, content_type="application/json", **headers, **extra
    )


def test_route_is_the_documented_one(bar):
    assert reverse("mappings:api_resolve_server", args=[bar.pk]) == f"/api/v1/bars/{bar.pk}/resolve-server"


def test_known_name_resolves_to_the_user(client, bar, mapping, server, api_token):
    response = resolve(client, bar.pk, {"name": "  aÏcha "}, api_token)
    assert response.status_code == 200
    assert response.json() == {
        "user_id": str(server.pk),
        "username": "aicha",
        "display_name": "Aïcha",
        "mapping_id": mapping.pk,
        "server_name": "Aïcha",
    }
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("name", "code"),
    [("Bob", "unknown_server_name"), ("", "invalid_server_name"), ("x" * 101, "invalid_server_name")],
)
def test_refusal_is_422_with_a_code_and_one_audit_row(name, code, client, bar, mapping, api_token):
    response = resolve(client, bar.pk, {"name": name}, api_token)
    assert response.status_code == 422
    assert response.json()["error"] == code and response.json()["message"]
    log = AuditLog.objects.get()
    assert (log.bar, log.error_type, log.level) == (bar, "server_id_resolution", "error")
    assert log.payload["code"] == code and log.payload["client"] == "pos-test" and log.payload["source"] == "api"
    assert "server_id" in log.error_message


def test_inactive_server_is_refused_with_its_code(client, bar, mapping, server, api_token):
    BarMember.objects.filter(user=server).update(is_active=False)
    response = resolve(client, bar.pk, {"name": "Aïcha"}, api_token)
    assert response.status_code == 422
    assert response.json()["error"] == "inactive_server"
    assert response.json()["detail"]["reason"] == "membership_inactive"
    assert AuditLog.objects.get().payload["code"] == "inactive_server"


def test_ambiguous_name_is_refused_with_its_code(client, bar, api_token):
    from adminpanel.models import MemberRole
    from tests.factories import BarMemberFactory, ServerFactory

    for username in ("fatou1", "fatou2"):
        BarMemberFactory(bar=bar, user=ServerFactory(username=username, display_name="Fatou"), role=MemberRole.SERVER)
    response = resolve(client, bar.pk, {"name": "fatou"}, api_token)
    assert response.status_code == 422 and response.json()["error"] == "ambiguous_name"


def test_html_in_a_name_comes_back_as_json_text(client, bar, api_token):
    response = resolve(client, bar.pk, {"name": "<img src=x onerror=alert(1)>"}, api_token)
    assert response.status_code == 422 and response["Content-Type"] == "application/json"


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Bearer ", "Basic abc", "bearer"])
def test_without_a_valid_token_the_answer_is_401_and_nothing_is_logged(authorization, client, bar, mapping):
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
    response = resolve(client, bar.pk, {"name": "Bob"}, **headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized" and response["WWW-Authenticate"] == "Bearer"
    assert not AuditLog.objects.exists()


def test_inactive_client_token_is_401(client, bar, mapping, api_token):
    ApiClient.objects.update(is_active=False)
    assert resolve(client, bar.pk, {"name": "Aïcha"}, api_token).status_code == 401


def test_token_is_stored_hashed(api_token):
    stored = ApiClient.objects.get()
    assert api_token not in (stored.token_hash, stored.token_prefix)
    assert len(stored.token_hash) == 64


def test_session_login_is_not_enough(client, bar, mapping, manager):
    client.force_login(manager)
    assert resolve(client, bar.pk, {"name": "Aïcha"}).status_code == 401


@pytest.mark.parametrize("bar_id", ["not-a-uuid", "1234", "%00", "' OR 1=1 --"])
def test_malformed_bar_id_is_400_json(bar_id, client, api_token, db):
    response = resolve(client, bar_id, {"name": "Bob"}, api_token)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_bar_id"


def test_unknown_bar_is_404_json(client, api_token):
    response = resolve(client, "00000000-0000-0000-0000-000000000000", {"name": "Bob"}, api_token)
    assert response.status_code == 404 and response.json()["error"] == "bar_not_found"
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("not json", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        ("", "invalid_request"),
        ("[]", "invalid_request"),
        ('{"name": 42}', "invalid_request"),
        ('{"nom": "Bob"}', "invalid_request"),
    ],
)
def test_malformed_body_is_400_json_and_not_a_resolution_error(body, code, client, bar, api_token):
    response = resolve(client, bar.pk, body, api_token)
    assert response.status_code == 400 and response.json()["error"] == code
    assert not AuditLog.objects.exists()


def test_oversize_body_is_413_json(client, bar, api_token, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    response = resolve(client, bar.pk, {"name": "x" * 500}, api_token)
    assert response.status_code == 413 and response.json()["error"] == "request_too_large"


def test_only_post_is_allowed(client, bar, api_token):
    response = client.get(f"/api/v1/bars/{bar.pk}/resolve-server", HTTP_AUTHORIZATION=f"Bearer {api_token}")
    assert response.status_code == 405 and response["Allow"] == "POST"


def test_no_csrf_token_is_needed(bar, mapping, api_token):
    from django.test import Client

    response = resolve(Client(enforce_csrf_checks=True), bar.pk, {"name": "Aïcha"}, api_token)
    assert response.status_code == 200


def test_each_refusal_writes_its_own_row(client, bar, mapping, api_token):
    for name in ("Bob", "Jo", "Aïcha", "Tantie"):
        resolve(client, bar.pk, {"name": name}, api_token)
    assert AuditLog.objects.filter(error_type="server_id_resolution", bar=bar).count() == 3
