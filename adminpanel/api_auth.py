"""Token authentication for the client APIs: ``Authorization: Bearer <token>``.

Clients poll (the flag API every few seconds per device), so a verified token is remembered in the process for
``API_TOKEN_CACHE_SECONDS`` (default 30): a request then costs no token query. Saving or deleting a client clears the
cache of the process that made the change at once (see ``apps.py``); other processes notice a revoked token when
their entry expires, at most that many seconds later.
"""

import threading
import time

from django.conf import settings
from django.utils import timezone

from adminpanel.models import ApiClient
from adminpanel.models.api import hash_token

LAST_USED_RESOLUTION_SECONDS = 60

_cache: dict[str, tuple[float, ApiClient]] = {}
_cache_lock = threading.Lock()


def clear_token_cache(**kwargs) -> None:
    """Forget every remembered token (signal receiver for ApiClient saves and deletes)."""
    with _cache_lock:
        _cache.clear()


def _cache_seconds() -> float:
    return float(getattr(settings, "API_TOKEN_CACHE_SECONDS", 30))


def authenticate_api_client(request) -> ApiClient | None:
    """The active client whose token the request carries, or None (the caller answers 401)."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    digest = hash_token(raw.strip())
    now = time.monotonic()
    cached = _cache.get(digest)
    if cached is not None and cached[0] > now:
        client = cached[1]
    else:
        client = ApiClient.objects.filter(token_hash=digest, is_active=True).first()
        if client is None:
            return None  # unknown tokens are never cached: a new client works at once
        with _cache_lock:
            _cache[digest] = (now + _cache_seconds(), client)
    _touch(client)
    return client


def _touch(client: ApiClient) -> None:
    # Touch last_used_at at most once a minute so polling clients do not write on every request.
    now = timezone.now()
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
