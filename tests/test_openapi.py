"""The client APIs' OpenAPI 3.1 contract: a valid document, served token-free and as a page, and enforced on every
client-API answer the suite gets (tests/openapi_contract.py, wired into Django's test client by tests/conftest.py)."""

import json

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from adminpanel.openapi import build, document_bytes
from rollout.flags import selectors
from rollout.flags.selectors import FlagReading
from rollout.models import ENABLE_SWITCHING_MODE
from tests.openapi_contract import ContractViolation, check

CLIENT_ROUTES = {
    "/api/v1/flags",
    "/api/v1/flags/snapshot",
    "/api/v1/flags/explain",
    "/api/v1/bars/{bar_id}/resolve-server",
    "/ofrep/v1/evaluate/flags/{key}",
    "/ofrep/v1/evaluate/flags",
    "/hooks/alertmanager/{secret}",
}


def test_the_document_is_valid_openapi_3_1_and_names_every_client_api():
    document = build()
    validate(document)  # raises on an invalid document
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) >= CLIENT_ROUTES


def test_an_invalid_document_would_be_refused():
    document = build()
    document["paths"]["/api/v1/flags"]["get"]["parameters"][0]["in"] = "body"  # OpenAPI 2's, not 3.1's
    with pytest.raises(OpenAPIValidationError):
        validate(document)


def test_the_document_is_served_token_free_and_read_only(client, db):
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200 and answer["Content-Type"] == "application/json"
    assert json.loads(answer.content) == json.loads(document_bytes())
    assert client.post("/api/openapi.json").status_code == 405


def test_the_page_for_people_lists_every_operation_without_scripts(client, db):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    for route in CLIENT_ROUTES:
        assert route in html
    assert "TARGETING_MATCH" in html
    assert 'src="http' not in html and "cdn" not in html.lower()  # nothing loaded from elsewhere


def _drifted(bar_id):
    reading = FlagReading(str(bar_id), None, {ENABLE_SWITCHING_MODE: True}, "abc")
    return FlagReading(
        reading.bar_id, None, reading.flags, "abc", body=reading.body.replace(b'"flags"', b'"beta": 1, "flags"')
    )


def test_a_drifting_answer_fails_the_suite(client, api_token, bar, monkeypatch):
    auth = {"Authorization": f"Bearer {api_token}"}
    assert client.get("/api/v1/flags", {"bar": str(bar.pk)}, headers=auth).status_code == 200
    monkeypatch.setattr(selectors, "flags_for_bar", _drifted)
    with pytest.raises(ContractViolation, match="beta"):
        client.get("/api/v1/flags", {"bar": str(bar.pk)}, headers=auth)


@pytest.mark.parametrize(
    ("method", "path", "status", "headers", "body", "why"),
    [
        ("GET", "/api/v1/flags", 500, {}, b"", "not one of"),
        ("GET", "/api/v2/flags", 200, {}, b"{}", "not in the OpenAPI document"),
        ("PUT", "/api/v1/flags", 200, {}, b"{}", "method is not documented"),
        (
            "GET",
            "/api/v1/flags/snapshot",
            200,
            {"Content-Type": "application/json"},
            b'{"version": "x", "bars": []}',
            "ETag",
        ),
        ("GET", "/api/v1/flags/snapshot", 200, {"ETag": '"x"', "Content-Type": "text/html"}, b"<p>", "text/html"),
        (
            "POST",
            "/ofrep/v1/evaluate/flags/X",
            200,
            {"Content-Type": "application/json"},
            b'{"key": "X", "value": "yes", "reason": "STATIC", "variant": "on", "metadata": {"version": "1"}}',
            "'yes' is not of type 'boolean'",
        ),
        (
            "POST",
            "/ofrep/v1/evaluate/flags/X",
            404,
            {"Content-Type": "application/json"},
            b'{"key": "X", "errorCode": "NOT_THERE", "errorDetails": "?"}',
            "FLAG_NOT_FOUND",
        ),
        ("POST", "/ofrep/v1/evaluate/flags", 304, {"ETag": '"x"'}, b"{}", "304 has a body"),
    ],
)
def test_the_contract_check_refuses_what_the_document_does_not_allow(method, path, status, headers, body, why):
    with pytest.raises(ContractViolation, match=why):
        check(method, path, status, headers, body)


def test_the_contract_check_lets_documented_answers_and_other_paths_through():
    check("GET", "/api/v1/flags", 304, {"ETag": '"x"'}, b"")
    check("GET", "/api/v2/anything", 404, {}, b"")
    check("GET", "/rollout/", 500, {}, b"")  # not a client API
