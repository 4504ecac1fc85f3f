"""The flag read API for BarTender clients: `GET /api/v1/flags`, `/api/v1/flags/snapshot` and `/api/v1/flags/explain`
(and OFREP, the OpenFeature protocol over the same readings: rollout/flags/ofrep.py, on the same fast path).

Every device polls the first (and relays and POS fleets the second), so both are served on a short path:
`ClientApiFastPath`, second in ``MIDDLEWARE`` right after Django's SecurityMiddleware (HTTPS redirect, HSTS,
nosniff, referrer and opener policies still apply), answers them without the layers below it, which a
token-authenticated, read-only JSON API does not use: sessions, CSRF (no cookie is ever read), authentication by
session and LoginRequiredMiddleware (the token is the login), messages, htmx, axes (no password is checked),
whitenoise (not a static file) and the page CSP with its nonce (the API sends its own, stricter policy). It still
checks the Host header against ``ALLOWED_HOSTS`` as CommonMiddleware would. The same views stay routed in
rollout/urls.py, so `reverse()` and any request that reaches the URL resolver get the same answers.

The answers come from the process's flag cache (rollout/flags/flag_cache.py: no database query per poll; dropped by
LISTEN/NOTIFY the moment a change commits) as bytes serialised once, and carry ``X-Served-By: <pid>`` so that a
client or a bench can tell which server process answered (bench/flag_api_propagation.py measures how fast a kill
switch reaches each one).
"""

import os
import time
import uuid
from urllib.parse import parse_qsl

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from adminpanel.api_auth import api_client_or_refusal, api_error, api_methods, bar_scope_refusal
from rollout import metrics
from rollout.flags import explain, ofrep, selectors
from rollout.flags.stale_flags import RETRY_AFTER_SECONDS, UNREACHABLE, stale_flags

# Headers of every answer of the polled API. A JSON answer loads nothing and may be framed by no page.
API_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
}
# Clients may keep an answer but must ask again every time: a kill switch shows on the next request.
CACHE_CONTROL = "private, no-cache"


def _read_only(name: str) -> JsonResponse:
    return api_error(405, "method_not_allowed", f"The {name} is read-only: use GET.", Allow="GET, HEAD")


def _if_none_match(request: HttpRequest) -> set[str]:
    header = request.META.get("HTTP_IF_NONE_MATCH", "")  # (request.headers would parse every header)
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _query_value(request: HttpRequest, name: str) -> str:
    """The last value of query parameter `name`, as `request.GET.get` gives it, without building the QueryDict."""
    if "GET" in request.__dict__:
        return request.GET.get(name, "")
    values = [value for key, value in parse_qsl(request.META.get("QUERY_STRING", ""), True) if key == name]
    return values[-1] if values else ""


def _answer(request: HttpRequest, etag: str, body: bytes) -> HttpResponse:
    """200 with the body, or 304 when the client already holds this ETag; both with the ETag, never stored."""
    etag = f'"{etag}"'
    client_tags = _if_none_match(request)
    if etag in client_tags or "*" in client_tags:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="application/json")
    response["ETag"] = etag
    response["Cache-Control"] = CACHE_CONTROL
    return response


def _api_bar_id(request: HttpRequest) -> tuple[uuid.UUID | None, JsonResponse | None]:
    """The token rules every per-bar route shares: a valid, unexpired client token (401), a bar id (400), and a
    bar inside the token's scope (403, said before the bar is looked up)."""
    client, refusal = api_client_or_refusal(request)
    if refusal is not None:
        return None, refusal
    try:
        bar_id = uuid.UUID(_query_value(request, "bar"))
    except ValueError:
        return None, api_error(400, "invalid_bar_id", "The bar parameter must be a bar id (a UUID).")
    return bar_id, bar_scope_refusal(client, bar_id)


def database_unavailable(what: str = "flags") -> JsonResponse:
    """503 in JSON with Retry-After: the database is unreachable and no recent answer may stand in for it."""
    return api_error(
        503,
        "database_unavailable",
        f"The {what} cannot be read right now (the database is unreachable): retry after {RETRY_AFTER_SECONDS} s.",
        **{"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _bar_key(request: HttpRequest) -> str:
    try:
        return str(uuid.UUID(_query_value(request, "bar")))
    except ValueError:
        return ""


def _stale_or_503(request: HttpRequest, what) -> HttpResponse:
    """The remembered answer for this token and request, marked stale with its age, or 503 (rollout/stale_flags)."""
    remembered, age = stale_flags.recall(request, what)
    if remembered is None:
        return database_unavailable("flag snapshot" if what[0] == "snapshot" else "flags")
    response = _answer(request, remembered.etag, remembered.body)
    response["X-Flags-Stale"] = "database unreachable; last known flags"
    response["Age"] = str(int(age))
    return response


@csrf_exempt  # token-authenticated, never cookie-authenticated: a write is answered 405 in JSON, not a CSRF page
@login_not_required
def flags_api(request: HttpRequest):
    """`GET /api/v1/flags?bar=<uuid>` for BarTender clients: both flags and the operating mode, with an ETag.
    With the database unreachable: the last known answer, marked stale, or 503 (rollout/flags/stale_flags.py)."""
    if request.method not in ("GET", "HEAD"):
        return _read_only("flag API")
    try:
        bar_id, refusal = _api_bar_id(request)
        if refusal is not None:
            return refusal
        reading = selectors.flags_for_bar(bar_id)
    except UNREACHABLE:
        return _stale_or_503(request, ("bar", _bar_key(request)))
    if reading is None:
        return api_error(404, "bar_not_found", "No bar has this id.")
    stale_flags.remember(
        request, ("bar", str(bar_id)), etag=reading.etag, body=reading.body, any_on=lambda: any(reading.flags.values())
    )
    return _answer(request, reading.etag, reading.body)


@csrf_exempt
@login_not_required
def snapshot_api(request: HttpRequest):
    """`GET /api/v1/flags/snapshot`: the `/api/v1/flags` answer of every bar the token may read (all bars for a
    fleet-wide token, its own bars for a scoped one), in one body with one ETag (304 on `If-None-Match`)."""
    if request.method not in ("GET", "HEAD"):
        return _read_only("flag snapshot API")
    try:
        client, refusal = api_client_or_refusal(request)
        if refusal is not None:
            return refusal
        scope = None if client.all_bars else frozenset(getattr(client, "scope_bar_ids", frozenset()))
        snapshot = selectors.flag_snapshot(scope)
    except UNREACHABLE:
        return _stale_or_503(request, ("snapshot",))
    stale_flags.remember(
        request, ("snapshot",), etag=snapshot.etag, body=snapshot.body, any_on=lambda: b": true" in snapshot.body
    )
    return _answer(request, snapshot.etag, snapshot.body)


@login_not_required
@api_methods("GET")
@metrics.timed("explain")
def explain_api(request: HttpRequest):
    """`GET /api/v1/flags/explain?bar=<uuid>`: why each flag is on or off for the bar (same token rules as
    `/api/v1/flags`); never cached, since it is for people debugging a bar, not for polling."""
    bar_id, refusal = _api_bar_id(request)
    if refusal:
        return refusal
    explanation = explain.explain_bar(bar_id)
    if explanation is None:
        return api_error(404, "bar_not_found", "No bar has this id.")
    response = JsonResponse(explanation.as_json())
    response["Cache-Control"] = "private, no-store"
    return response


FAST_VIEWS = {"/api/v1/flags": flags_api, "/api/v1/flags/snapshot": snapshot_api}
# The `endpoint` label of each in /metrics (rollout/metrics.py: request count and latency per process).
FAST_ENDPOINTS = {flags_api: "flags", snapshot_api: "snapshot"}


class ClientApiFastPath:
    """Answer the polled client APIs right after SecurityMiddleware, skipping the page layers (module docstring)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        path = request.path_info
        view = FAST_VIEWS.get(path)
        if view is None and path.startswith("/ofrep/"):
            view = ofrep.fast_view(path)
        if view is None:
            return self.get_response(request)
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it (DisallowedHost: 400)
        started = time.perf_counter()
        try:
            response = view(request)
        except UNREACHABLE:  # never the HTML error page (nor its CSRF cookie) to a client
            response = database_unavailable()
        if view in FAST_ENDPOINTS:
            metrics.observe(FAST_ENDPOINTS[view], response.status_code, time.perf_counter() - started)
        for name, value in API_HEADERS.items():
            response.headers.setdefault(name, value)
        response["X-Served-By"] = str(os.getpid())
        return response
