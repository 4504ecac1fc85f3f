"""Per-client API tokens for BarTender clients (resolution API, flag API); only a hash is stored."""

import hashlib
import secrets

from django.db import models
from django.utils import timezone

TOKEN_PREFIX_LENGTH = 8


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ApiClient(models.Model):
    name = models.CharField(max_length=100, unique=True)
    token_prefix = models.CharField(max_length=TOKEN_PREFIX_LENGTH, editable=False, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    is_active = models.BooleanField(default=True)
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
