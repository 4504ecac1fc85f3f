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

UUID = {"type": "string", "format": "uuid"}
STRING = {"type": "string"}


def _obj(properties: dict, required=None, **more) -> dict:
    schema = {
        "type": "object",
        "properties": properties,
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }
    return {**schema, **more}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(description: str, schema: dict, **headers) -> dict:
    answer = {"description": description, "content": {"application/json": {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _error(description: str) -> dict:
    return _json(description, _ref("Error"))


ETAG = {"ETag": {"description": "The answer's version; send it back in If-None-Match.", "schema": STRING}}
IF_NONE_MATCH = {
    "name": "If-None-Match",
    "in": "header",
    "required": False,
    "description": "The ETag of the answer the client holds: 304 with no body while it is still current.",
    "schema": STRING,
}
BAR_QUERY = {"name": "bar", "in": "query", "required": True, "description": "The bar's id.", "schema": UUID}
TOKEN_ERRORS = {
    "401": _error("No valid, unexpired API token (`WWW-Authenticate` says why)."),
    "403": _error("The token is not scoped to this bar (`bar_not_allowed`)."),
}
UNAVAILABLE = {
    "503": _json(
        "The database is unreachable and this process has no recent answer to stand in for it "
        "(`database_unavailable`); a recent one is served instead as a 200 marked `X-Flags-Stale` with its `Age`.",
        _ref("Error"),
        **{"Retry-After": {"description": "Seconds to wait before asking again.", "schema": STRING}},
    )
}
NOT_MODIFIED = {"304": {"description": "Not modified: the client's ETag is current (no body).", "headers": ETAG}}

FLAG_READING = _obj(
    {
        "bar": UUID,
        "operatingMode": {"enum": ["simplified", "full", None], "description": "The bar's chosen mode, or null."},
        "flags": {"type": "object", "additionalProperties": {"type": "boolean"}, "description": "Flag key: on?"},
        "version": {"type": "string", "description": "The answer's version (its ETag, unquoted)."},
    }
)

EXPLANATION = _obj(
    {
        "bar": _obj({"id": UUID, "name": STRING, "internal": {"type": "boolean"}}),
        "stage": _obj({"current": STRING, "label": STRING}),
        "bucket": {"type": "integer", "minimum": 0, "maximum": 99},
        "stages": {
            "type": "array",
            "items": _obj(
                {
                    "stage": STRING,
                    "label": STRING,
                    "rule": STRING,
                    "inCohort": {"type": "boolean"},
                    "reached": {"type": "boolean"},
                }
            ),
        },
        "operatingMode": _obj({"value": {"type": ["string", "null"]}, "why": STRING}),
        "switchedByRollout": {
            "oneOf": [
                {"type": "null"},
                _obj({"stage": STRING, "at": {"type": "string", "format": "date-time"}, "step": {"type": "integer"}}),
            ]
        },
        "flags": {
            "type": "object",
            "additionalProperties": _obj(
                {
                    "value": {"type": "boolean"},
                    "enabledGlobally": {"type": "boolean"},
                    "killSwitch": {"type": "boolean"},
                    "allowListed": {"type": "boolean"},
                    "why": STRING,
                }
            ),
        },
        "served": {"oneOf": [{"type": "null"}, _ref("FlagReading")]},
        "agreesWithFlagApi": {"type": "boolean"},
    }
)

RESOLUTION = _obj(
    {
        "user_id": UUID,
        "username": STRING,
        "display_name": STRING,
        "mapping_id": {"type": "integer"},
        "server_name": STRING,
    }
)
RESOLUTION_REFUSAL = _obj(
    {
        "error": {"enum": ["unknown_server_name", "invalid_server_name", "inactive_server", "ambiguous_name"]},
        "message": STRING,
        "detail": {"type": "object"},
    },
    required=["error", "message"],
)

OFREP_REASON = {
    "enum": ["STATIC", "TARGETING_MATCH", "DISABLED", "DEFAULT"],
    "description": "DISABLED: kill switch engaged (value false); STATIC: on for every bar; TARGETING_MATCH: the "
    "bar is on the allow-list; DEFAULT: off for this bar.",
}
OFREP_EVALUATION = _obj(
    {
        "key": STRING,
        "value": {"type": "boolean"},
        "reason": OFREP_REASON,
        "variant": {"enum": ["on", "off"]},
        "metadata": _obj({"version": STRING}),
    }
)
OFREP_CONTEXT = {
    "type": "object",
    "description": "The evaluation context: `targetingKey` is the bar's id. Other attributes are accepted and "
    "change nothing (allow-lists name bars).",
    "properties": {"targetingKey": UUID},
    "required": ["targetingKey"],
}
OFREP_REQUEST = {"type": "object", "properties": {"context": OFREP_CONTEXT}, "required": ["context"]}
OFREP_FAILURE = _obj(
    {
        "key": STRING,
        "errorCode": {"enum": ["PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL"]},
        "errorDetails": STRING,
    }
)
OFREP_NOT_FOUND = _obj({"key": STRING, "errorCode": {"const": "FLAG_NOT_FOUND"}, "errorDetails": STRING})
OFREP_BULK_FAILURE = _obj(
    {
        "errorCode": {"enum": ["PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL"]},
        "errorDetails": STRING,
    }
)

# Alertmanager's webhook payload (version 4), as Alertmanager sends it; open to fields a later version adds.
ALERTMANAGER_ALERT = {
    "type": "object",
    "properties": {
        "status": {"enum": ["firing", "resolved"]},
        "labels": {"type": "object", "additionalProperties": STRING},
        "annotations": {"type": "object", "additionalProperties": STRING},
        "startsAt": {"type": "string", "format": "date-time"},
        "endsAt": {"type": "string", "format": "date-time"},
        "generatorURL": STRING,
        "fingerprint": STRING,
    },
    "required": ["status", "labels", "startsAt"],
}
ALERTMANAGER_PAYLOAD = {
    "type": "object",
    "properties": {
        "version": {"const": "4"},
        "groupKey": STRING,
        "truncatedAlerts": {"type": "integer", "minimum": 0},
        "status": {"enum": ["firing", "resolved"]},
        "receiver": STRING,
        "groupLabels": {"type": "object", "additionalProperties": STRING},
        "commonLabels": {"type": "object", "additionalProperties": STRING},
        "commonAnnotations": {"type": "object", "additionalProperties": STRING},
        "externalURL": STRING,
        "alerts": {"type": "array", "items": _ref("AlertmanagerAlert")},
    },
    "required": ["version", "status", "alerts"],
}

SECURED = [{"bearerToken": []}]
READ_ONLY = {"405": {"description": "Another method than the documented one (`Allow` names it)."}}


# Every route, before any API code runs: plain HTTP is redirected while the panel requires HTTPS.
HTTPS_REDIRECT = {
    "301": {
        "description": "Plain HTTP while the panel requires HTTPS: the same URL over https.",
        "headers": {"Location": {"description": "The https URL.", "schema": STRING}},
    }
}


def _operation(summary: str, description: str, responses: dict, *, op_id: str, tag: str, **more) -> dict:
    return {
        "operationId": op_id,
        "tags": [tag],
        "summary": summary,
        "description": description,
        "responses": {**responses, **HTTPS_REDIRECT},
        **more,
    }


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
