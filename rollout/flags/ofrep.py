"""OpenFeature Remote Evaluation Protocol (OFREP) for BarTender clients on any OpenFeature SDK (issue 23).

``POST /ofrep/v1/evaluate/flags/<key>`` evaluates one flag and ``POST /ofrep/v1/evaluate/flags`` every flag, for
the bar named by the evaluation context's ``targetingKey`` (the bar's id). There is no second evaluation here: the
answer is the bar's reading from the flag API's selector (rollout.flags.selectors.flags_for_bar: the same per-process
cache, dropped by LISTEN/NOTIFY on every committed change, so a kill switch reaches OFREP clients as fast as
``/api/v1/flags`` ones), and the same client tokens (``Authorization: Bearer``, scoped to bars, expiring: 401/403
in the project's shape, as for every client API). Both routes are on ``ClientApiFastPath`` (rollout/flags/api.py).

Reasons (OpenFeature's): ``DISABLED`` when the kill switch is engaged (value false), ``STATIC`` when the flag is
on for every bar, ``TARGETING_MATCH`` when the bar is on the flag's allow-list, ``DEFAULT`` when it is off for the
bar otherwise. Allow-lists name bars only, so the context's other attributes (a user id) change nothing. Errors as
the OFREP specification defines them: 400 ``PARSE_ERROR`` (body not a JSON object), ``TARGETING_KEY_MISSING``,
``INVALID_CONTEXT`` (targetingKey not a bar id, or no bar has it), 404 ``FLAG_NOT_FOUND``. The bulk answer carries
an ETag and is answered 304 on ``If-None-Match``.
"""

import json
import uuid

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from adminpanel.api_auth import api_client_or_refusal, api_error, bar_scope_refusal
from rollout.flags import api as flag_api
from rollout.flags import selectors
from rollout.flags.selectors import FlagReading

PREFIX = "/ofrep/v1/evaluate/flags"


class OfrepError(Exception):
    def __init__(self, code: str, details: str, status: int = 400):
        super().__init__(details)
        self.code, self.details, self.status = code, details, status


def _no_cache(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "private, no-cache"
    return response


def _failure(error: OfrepError, key: str | None = None) -> JsonResponse:
    body = {"errorCode": error.code, "errorDetails": error.details}
    if key is not None:
        body = {"key": key, **body}
    return _no_cache(JsonResponse(body, status=error.status))


def _bar_id(request: HttpRequest) -> uuid.UUID:
    """The bar the evaluation context names (``context.targetingKey``), or the OFREP error saying what is wrong."""
    try:
        payload = json.loads(request.body or b"{}")
    except RequestDataTooBig:
        raise OfrepError("PARSE_ERROR", "The request body is too large.") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise OfrepError("PARSE_ERROR", 'The body must be JSON: {"context": {"targetingKey": "<bar id>"}}.') from None
    if not isinstance(payload, dict):
        raise OfrepError("PARSE_ERROR", 'The body must be a JSON object: {"context": {...}}.')
    context = payload.get("context")
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise OfrepError("INVALID_CONTEXT", "The evaluation context must be a JSON object.")
    key = context.get("targetingKey")
    if key is None or key == "":
        raise OfrepError("TARGETING_KEY_MISSING", "The evaluation context needs a targetingKey: the bar's id.")
    try:
        if not isinstance(key, str):
            raise ValueError(key)
        return uuid.UUID(key)
    except ValueError:
        raise OfrepError("INVALID_CONTEXT", "The targetingKey must be a bar id (a UUID).") from None


def _reading(request: HttpRequest) -> tuple[FlagReading | None, HttpResponse | None, OfrepError | None]:
    """(reading, None, None), or the token refusal (401/403), or the OFREP error about the context."""
    client, refusal = api_client_or_refusal(request)
    if refusal is not None:
        return None, refusal, None
    try:
        bar_id = _bar_id(request)
    except OfrepError as error:
        return None, None, error
    refusal = bar_scope_refusal(client, bar_id)
    if refusal is not None:
        return None, refusal, None
    reading = selectors.flags_for_bar(bar_id)
    if reading is None:
        return None, None, OfrepError("INVALID_CONTEXT", "No bar has this targetingKey.")
    return reading, None, None


def _evaluation(reading: FlagReading, key: str) -> dict:
    value = reading.flags[key]
    return {
        "key": key,
        "value": value,
        "reason": reading.reasons.get(key, selectors.REASON_DEFAULT),
        "variant": "on" if value else "off",
        "metadata": {"version": reading.etag},
    }


def bulk_body(reading: FlagReading) -> bytes:
    """The bulk answer's body, serialised once per reading (kept with it in the flag cache)."""
    body = reading.derived.get("ofrep")
    if body is None:
        body = json.dumps({"flags": [_evaluation(reading, key) for key in sorted(reading.flags)]}).encode()
        reading.derived["ofrep"] = body
    return body


def _refused_method() -> JsonResponse:
    return api_error(405, "method_not_allowed", "OFREP evaluates with POST.", Allow="POST")


@csrf_exempt  # token-authenticated, never cookie-authenticated
@login_not_required
def evaluate_flag(request: HttpRequest, key: str):
    """``POST /ofrep/v1/evaluate/flags/<key>``: one flag for the context's bar."""
    if request.method != "POST":
        return _refused_method()
    reading, refusal, error = _reading(request)
    if refusal is not None:
        return refusal
    if error is not None:
        return _failure(error, key)
    if key not in reading.flags:
        return _failure(OfrepError("FLAG_NOT_FOUND", f"No flag is called {key!r}.", status=404), key)
    return _no_cache(JsonResponse(_evaluation(reading, key)))


@csrf_exempt
@login_not_required
def evaluate_flags(request: HttpRequest):
    """``POST /ofrep/v1/evaluate/flags``: every flag for the context's bar, with an ETag (304 on If-None-Match)."""
    if request.method != "POST":
        return _refused_method()
    reading, refusal, error = _reading(request)
    if refusal is not None:
        return refusal
    if error is not None:
        return _failure(error)
    return flag_api._answer(request, reading.etag, bulk_body(reading))


def fast_view(path: str):
    """The OFREP view for a path on the fast path (rollout.flags.api.ClientApiFastPath), or None."""
    if path == PREFIX:
        return evaluate_flags
    if path.startswith(PREFIX + "/"):
        key = path[len(PREFIX) + 1 :]
        if key and "/" not in key:
            return lambda request: evaluate_flag(request, key)
    return None
