"""The building blocks of the client APIs' OpenAPI 3.1 contract (``adminpanel.openapi``): the closed schemas of
every answer (flags, explanations, resolutions, OFREP, Alertmanager's payload), the shared headers and error
answers, and one operation's frame. Plain data: imports nothing above adminpanel."""


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
