"""Token authentication for the client APIs: ``Authorization: Bearer <token>``, scoped to bars, with an expiry.

Clients poll (the flag API every few seconds per device), so a verified token is remembered in the process: a
request then costs no token query. Revocation still reaches every process at once: triggers (migration 0012)
notify channel ``bartender_api_clients`` when a client is revoked, rotated, deleted or re-scoped, and the process's
listener (adminpanel.pg_notify) empties this cache on commit. While the listener is not connected nothing is
remembered, so a missed notification can never keep a revoked token alive. ``API_TOKEN_CACHE_SECONDS`` bounds how
long an entry is kept even so (0: never remember).

The answers to a refused request are the same for both APIs: 401 without a valid token (or with an expired one,
which says so), 403 for a bar outside the token's scope — checked before the bar is looked up, so a token never
learns which ids exist outside its scope.
"""

import threading
import time
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.http import JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from adminpanel.models import ApiClient
from adminpanel.models.api import NOTIFY_CHANNEL, hash_token
from adminpanel.pg_notify import listener

LAST_USED_RESOLUTION_SECONDS = 60

_cache: dict[str, tuple[float, ApiClient]] = {}
_cache_lock = threading.Lock()
_generation = [0]  # bumped by every clear: a client read before a revocation is never remembered after it


def clear_token_cache(*args, **kwargs) -> None:
    """Forget every remembered token (LISTEN callback, and receiver of this process's ApiClient saves)."""
    with _cache_lock:
        _generation[0] += 1
        _cache.clear()


listener.subscribe(NOTIFY_CHANNEL, clear_token_cache)


def _cache_seconds() -> float:
    return float(getattr(settings, "API_TOKEN_CACHE_SECONDS", 30))


def _caching() -> bool:
    if _cache_seconds() <= 0:
        return False
    listener.ensure_started()
    return listener.listening()


@dataclass(frozen=True)
class TokenCheck:
    """The outcome of reading a request's token: the client, or why there is none (`code`, `message`)."""

    client: ApiClient | None
    code: str = ""
    message: str = ""


MISSING = TokenCheck(None, "unauthorized", "A valid API token is required (Authorization: Bearer <token>).")


def _load(digest: str) -> ApiClient | None:
    client = ApiClient.objects.filter(token_hash=digest, is_active=True).first()
    if client is not None:
        client.scope_bar_ids = frozenset(str(pk) for pk in client.bars.values_list("pk", flat=True))
    return client


def check_api_token(request) -> TokenCheck:
    """Read the bearer token: its active, unexpired client, or a refusal saying why."""
    # META rather than request.headers: building the headers mapping costs more than the rest of a cached poll.
    header = request.META.get("HTTP_AUTHORIZATION", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return MISSING
    digest = hash_token(raw.strip())
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached is not None and cached[0] > now and _caching():
        client = cached[1]
    else:
        generation = _generation[0]
        client = _load(digest)
        if client is None:
            return MISSING  # unknown tokens are never cached: a new client works at once
        if _caching():
            with _cache_lock:
                if generation == _generation[0]:
                    _cache[digest] = (now + _cache_seconds(), client)
    if client.is_expired():
        return TokenCheck(
            None,
            "token_expired",
            f"This API token expired on {timezone.localtime(client.expires_at):%Y-%m-%d %H:%M %Z}; "
            "ask an administrator for a new one.",
        )
    _touch(client)
    return TokenCheck(client)


def authenticate_api_client(request) -> ApiClient | None:
    """The active, unexpired client whose token the request carries, or None."""
    return check_api_token(request).client


def may_use_bar(client: ApiClient, bar_id) -> bool:
    """Whether the client's token is scoped to the bar (or to every bar)."""
    return client.all_bars or str(bar_id) in getattr(client, "scope_bar_ids", frozenset())


def api_error(status: int, code: str, message: str, **headers) -> JsonResponse:
    """A client API refusal: ``{"error": code, "message": …}`` (the same shape in every API)."""
    return JsonResponse({"error": code, "message": message}, status=status, headers=headers or None)


def api_methods(*methods: str):
    """A token-authenticated client API's method rule: another method gets a JSON 405 naming the allowed ones, and
    the view is CSRF-exempt (no cookie authenticates it, so a cross-site POST carries nothing to abuse)."""

    def decorate(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if request.method not in methods:
                allowed = ", ".join(methods)
                return api_error(405, "method_not_allowed", f"Only {allowed} is accepted here.", Allow=allowed)
            return view(request, *args, **kwargs)

        return csrf_exempt(wrapped)

    return decorate


def api_client_or_refusal(request) -> tuple[ApiClient | None, JsonResponse | None]:
    """(client, None) for a valid token; else (None, the 401 answer, saying when the token expired)."""
    check = check_api_token(request)
    if check.client is None:
        challenge = 'Bearer error="invalid_token"' if check.code == "token_expired" else "Bearer"
        return None, api_error(401, check.code, check.message, **{"WWW-Authenticate": challenge})
    return check.client, None


def bar_scope_refusal(client: ApiClient, bar_id) -> JsonResponse | None:
    """The 403 answer when the client's token is not scoped to the bar, else None (asked before the bar is
    looked up, so a token learns nothing about bars outside its scope)."""
    if may_use_bar(client, bar_id):
        return None
    return api_error(403, "bar_not_allowed", "This API token is not allowed for this bar.")


def _touch(client: ApiClient) -> None:
    # Touch last_used_at at most once a minute so polling clients do not write on every request (and this
    # column's updates notify no cache: see migration 0012).
    now = timezone.now()
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
