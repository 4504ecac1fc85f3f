"""The OpenAPI 3.1 contract of the client APIs (issue 23), served token-free at ``/api/openapi.json`` and as a page
for people at ``/api/docs/``.

It describes every route a BarTender client (a POS, the web app, a relay, an alerting tool) calls: the flag API
(``/api/v1/flags``, its snapshot and explanation), the server-name resolution API, OFREP (the OpenFeature Remote
Evaluation Protocol) and the Alertmanager webhook. The schemas are closed (``additionalProperties: false``): the
test suite validates every client-API answer it gets against this document (tests/openapi_contract.py), so a field
added, renamed or retyped without being written here fails the suite. It is plain data: this module imports no app
above adminpanel.
"""

import json
from functools import lru_cache

from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from adminpanel.openapi_schemas import (
    ALERTMANAGER_ALERT,
    ALERTMANAGER_PAYLOAD,
    BAR_QUERY,
    ETAG,
    EXPLANATION,
    FLAG_READING,
    IF_NONE_MATCH,
    NOT_MODIFIED,
    OFREP_BULK_FAILURE,
    OFREP_EVALUATION,
    OFREP_FAILURE,
    OFREP_NOT_FOUND,
    OFREP_REQUEST,
    READ_ONLY,
    RESOLUTION,
    RESOLUTION_REFUSAL,
    SECURED,
    STRING,
    TOKEN_ERRORS,
    UNAVAILABLE,
    UUID,
    _error,
    _json,
    _obj,
    _operation,
    _ref,
)


def build() -> dict:
    """The document (a fresh dict)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "BarTender Admin Panel client APIs",
            "version": "1",
            "description": "Flag evaluation (the panel's own API and OpenFeature's OFREP), server-name resolution "
            "and the Alertmanager hook. Client APIs authenticate with `Authorization: Bearer <token>`: a token "
            "an administrator issues in the panel, scoped to bars or to every bar, with an expiry. A refusal is "
            '`{"error": <code>, "message": <words>}` (OFREP errors use the protocol\'s own shape).',
        },
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "flags", "description": "The panel's flag API (polled by every device)."},
            {"name": "OFREP", "description": "OpenFeature Remote Evaluation Protocol: point any OpenFeature SDK here."},
            {"name": "resolution", "description": "Server-name resolution for a bar."},
            {"name": "alerts", "description": "Alerts in from Alertmanager."},
            {"name": "contract", "description": "This document."},
        ],
        "paths": {
            "/api/v1/flags": {
                "get": _operation(
                    "Both flags and the operating mode of one bar",
                    "Served from the process's flag cache; a change (a flip, an allow-list, the kill switch) shows "
                    "on the next request. `Cache-Control: private, no-cache`: keep the answer, ask again each time.",
                    {
                        "200": _json("The bar's flags.", _ref("FlagReading"), **ETAG),
                        **NOT_MODIFIED,
                        "400": _error("`bar` is not a bar id (`invalid_bar_id`)."),
                        **TOKEN_ERRORS,
                        "404": _error("No bar has this id (`bar_not_found`)."),
                        **READ_ONLY,
                        **UNAVAILABLE,
                    },
                    op_id="getFlags",
                    tag="flags",
                    parameters=[BAR_QUERY, IF_NONE_MATCH],
                    security=SECURED,
                )
            },
            "/api/v1/flags/snapshot": {
                "get": _operation(
                    "Every readable bar's flags in one answer",
                    "The `/api/v1/flags` answer of every bar the token may read (all bars for a fleet-wide token).",
                    {
                        "200": _json(
                            "Every bar's reading.",
                            _obj({"version": STRING, "bars": {"type": "array", "items": _ref("FlagReading")}}),
                            **ETAG,
                        ),
                        **NOT_MODIFIED,
                        "401": TOKEN_ERRORS["401"],
                        **READ_ONLY,
                        **UNAVAILABLE,
                    },
                    op_id="getFlagSnapshot",
                    tag="flags",
                    parameters=[IF_NONE_MATCH],
                    security=SECURED,
                )
            },
            "/api/v1/flags/explain": {
                "get": _operation(
                    "Why each flag is on or off for a bar",
                    "Every input of the bar's flags (stage, hash bucket, allow-list, kill switch), for people "
                    "debugging a bar; never cached.",
                    {
                        "200": _json("The explanation.", _ref("Explanation")),
                        "400": _error("`bar` is not a bar id."),
                        **TOKEN_ERRORS,
                        "404": _error("No bar has this id."),
                        **READ_ONLY,
                    },
                    op_id="explainFlags",
                    tag="flags",
                    parameters=[BAR_QUERY],
                    security=SECURED,
                )
            },
            "/api/v1/bars/{bar_id}/resolve-server": {
                "post": _operation(
                    "Resolve a server name to the bar member it is mapped to",
                    "Every 422 is counted in the panel's resolution error rate.",
                    {
                        "200": _json("The member.", _ref("Resolution")),
                        "400": _error('Not a bar id, or the body is not `{"name": "…"}`.'),
                        **TOKEN_ERRORS,
                        "404": _error("No bar has this id."),
                        "405": {"description": "Another method than POST."},
                        "413": _error("The body is too large."),
                        "422": _json("The name resolves to no single active member.", _ref("ResolutionRefusal")),
                    },
                    op_id="resolveServer",
                    tag="resolution",
                    parameters=[{"name": "bar_id", "in": "path", "required": True, "schema": UUID}],
                    requestBody={
                        "required": True,
                        "content": {"application/json": {"schema": _obj({"name": STRING})}},
                    },
                    security=SECURED,
                )
            },
            "/ofrep/v1/evaluate/flags/{key}": {
                "post": _operation(
                    "OFREP: evaluate one flag for a bar",
                    "The same reading as `/api/v1/flags` (same cache, same kill-switch propagation).",
                    {
                        "200": _json("The evaluation.", _ref("OfrepEvaluation")),
                        "400": _json("A bad body or context.", _ref("OfrepFailure")),
                        **TOKEN_ERRORS,
                        "404": _json("No flag has this key.", _ref("OfrepFlagNotFound")),
                        "405": {"description": "Another method than POST."},
                    },
                    op_id="ofrepEvaluateFlag",
                    tag="OFREP",
                    parameters=[{"name": "key", "in": "path", "required": True, "schema": STRING}],
                    requestBody={"content": {"application/json": {"schema": OFREP_REQUEST}}},
                    security=SECURED,
                )
            },
            "/ofrep/v1/evaluate/flags": {
                "post": _operation(
                    "OFREP: evaluate every flag for a bar",
                    "With an ETag; 304 while the client's `If-None-Match` is current.",
                    {
                        "200": _json(
                            "Every flag's evaluation.",
                            _obj({"flags": {"type": "array", "items": _ref("OfrepEvaluation")}}),
                            **ETAG,
                        ),
                        **NOT_MODIFIED,
                        "400": _json("A bad body or context.", _ref("OfrepBulkFailure")),
                        **TOKEN_ERRORS,
                        "405": {"description": "Another method than POST."},
                    },
                    op_id="ofrepEvaluateFlags",
                    tag="OFREP",
                    parameters=[IF_NONE_MATCH],
                    requestBody={"content": {"application/json": {"schema": OFREP_REQUEST}}},
                    security=SECURED,
                )
            },
            "/hooks/alertmanager/{secret}": {
                "post": _operation(
                    "Alertmanager webhook: open an incident (and pull the kill switch when labelled for it)",
                    "Point an Alertmanager `webhook_configs` receiver at this URL. Each trigger has its own secret "
                    "(in the path), can be revoked and is rate-limited; every call is audited.",
                    {
                        "200": _json("The alerts were taken.", {"type": "object"}),
                        "400": _error("The body is not an Alertmanager payload."),
                        "403": _error("The trigger was revoked."),
                        "404": {"description": "No active trigger has this secret."},
                        "405": {"description": "Another method than POST."},
                        "413": {"description": "The body is too large."},
                        "429": {"description": "Rate-limited: too many calls for this trigger."},
                    },
                    op_id="alertmanagerHook",
                    tag="alerts",
                    parameters=[{"name": "secret", "in": "path", "required": True, "schema": STRING}],
                    requestBody={
                        "required": True,
                        "content": {"application/json": {"schema": _ref("AlertmanagerPayload")}},
                    },
                )
            },
            "/api/openapi.json": {
                "get": _operation(
                    "This document",
                    "Token-free and read-only; also rendered for people at `/api/docs/`.",
                    {"200": _json("The OpenAPI 3.1 document.", {"type": "object", "required": ["openapi", "paths"]})},
                    op_id="getOpenApi",
                    tag="contract",
                )
            },
        },
        "components": {
            "securitySchemes": {
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A client API token issued in the panel (scoped to bars, expiring).",
                }
            },
            "schemas": {
                "Error": _obj({"error": STRING, "message": STRING}),
                "FlagReading": FLAG_READING,
                "Explanation": EXPLANATION,
                "Resolution": RESOLUTION,
                "ResolutionRefusal": RESOLUTION_REFUSAL,
                "OfrepEvaluation": OFREP_EVALUATION,
                "OfrepFailure": OFREP_FAILURE,
                "OfrepFlagNotFound": OFREP_NOT_FOUND,
                "OfrepBulkFailure": OFREP_BULK_FAILURE,
                "AlertmanagerPayload": ALERTMANAGER_PAYLOAD,
                "AlertmanagerAlert": ALERTMANAGER_ALERT,
            },
        },
    }


@lru_cache(maxsize=1)
def document_bytes() -> bytes:
    return json.dumps(build(), indent=1).encode()


@login_not_required
@require_GET
def openapi_json(request):
    """``GET /api/openapi.json``: the contract, token-free (it holds no secret)."""
    response = HttpResponse(document_bytes(), content_type="application/json")
    response["Cache-Control"] = "public, max-age=300"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def operations(document: dict) -> list[dict]:
    """The document's operations, for the page: method, path, summary, description, parameters, responses."""
    rows = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            rows.append(
                {
                    "id": operation["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "tag": operation["tags"][0],
                    "summary": operation["summary"],
                    "description": operation["description"],
                    "secured": bool(operation.get("security")),
                    "parameters": operation.get("parameters", []),
                    "body": "requestBody" in operation,
                    "responses": [
                        {"status": status, "description": answer["description"], "schema": _schema_name(answer)}
                        for status, answer in operation["responses"].items()
                    ],
                }
            )
    return rows


def _schema_name(answer: dict) -> str:
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if not schema:
        return ""
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else "JSON"


@login_not_required
@require_GET
def api_docs(request):
    """``GET /api/docs/``: the contract for people, rendered on the server (no script, no CDN)."""
    document = build()
    return render(
        request,
        "adminpanel/api_docs.html",
        {
            "info": document["info"],
            "operations": operations(document),
            "schemas_json": [
                (name, json.dumps(schema, indent=2)) for name, schema in document["components"]["schemas"].items()
            ],
        },
    )
