"""Token authentication for the client APIs: ``Authorization: Bearer <token>``."""

from django.utils import timezone

from adminpanel.models import ApiClient
from adminpanel.models.api import hash_token

LAST_USED_RESOLUTION_SECONDS = 60


def authenticate_api_client(request) -> ApiClient | None:
    """The active client whose token the request carries, or None (the caller answers 401)."""
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw.strip():
        return None
    client = ApiClient.objects.filter(token_hash=hash_token(raw.strip()), is_active=True).first()
    if client is None:
        return None
    now = timezone.now()
    # Touch last_used_at at most once a minute so polling clients do not write on every request.
    if client.last_used_at is None or (now - client.last_used_at).total_seconds() > LAST_USED_RESOLUTION_SECONDS:
        ApiClient.objects.filter(pk=client.pk).update(last_used_at=now)
        client.last_used_at = now
    return client
