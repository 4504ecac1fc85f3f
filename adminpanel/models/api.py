"""Per-client API tokens for BarTender clients (resolution API, flag API); only a hash is stored.

A token serves the bars it is scoped to (or every bar, for a fleet-wide client that says so) until it expires
or is revoked (``is_active`` off, or the client deleted). Revocation reaches every serving process at once:
triggers (migration 0012) notify channel ``bartender_api_clients`` and ``adminpanel.api_auth`` drops what it
remembered.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from adminpanel.models.bartender import Bar

TOKEN_PREFIX_LENGTH = 8
NOTIFY_CHANNEL = "bartender_api_clients"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def default_expiry():
    """When a new token stops working unless renewed (``API_TOKEN_LIFETIME_DAYS``, default a year)."""
    return timezone.now() + timedelta(days=getattr(settings, "API_TOKEN_LIFETIME_DAYS", 365))


class ApiClient(models.Model):
    name = models.CharField(max_length=100, unique=True)
    token_prefix = models.CharField(max_length=TOKEN_PREFIX_LENGTH, editable=False, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True, help_text="Untick to revoke the token at once, in every process.")
    bars = models.ManyToManyField(
        Bar,
        blank=True,
        related_name="+",
        db_constraint=False,
        help_text="The bars this token may resolve names and read flags of.",
    )
    all_bars = models.BooleanField(
        default=False, help_text="Every bar, present and future (a fleet-wide client); otherwise only the bars above."
    )
    expires_at = models.DateTimeField(default=default_expiry, help_text="The token stops working at this time.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "api_clients"
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.token_prefix}…)"

    def issue_token(self) -> str:
        """Give the client a new random token; returns it once (only its hash is kept)."""
        raw = f"{secrets.token_hex(TOKEN_PREFIX_LENGTH // 2)}.{secrets.token_urlsafe(32)}"
        self.token_prefix = raw[:TOKEN_PREFIX_LENGTH]
        self.token_hash = hash_token(raw)
        return raw

    def is_expired(self, now=None) -> bool:
        return self.expires_at <= (now or timezone.now())
