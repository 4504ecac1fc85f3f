"""A confirmation token used once: its nonce is recorded when it is consumed (adminpanel/confirmations.py)."""

from django.db import models


class UsedConfirmation(models.Model):
    """One consumed confirmation token. The primary key makes consuming atomic (INSERT … ON CONFLICT DO NOTHING);
    rows older than the tokens' lifetime are pruned on the next use (an expired token is refused anyway)."""

    nonce = models.CharField(max_length=64, primary_key=True)
    used_at = models.DateTimeField(db_index=True)

    class Meta:
        db_table = "panel_used_confirmations"

    def __str__(self) -> str:
        return self.nonce
