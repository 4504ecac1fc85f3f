"""Panel accounts: the staff and bar managers who log in to the panel (not BarTender's users)."""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models

from adminpanel.models.bartender import AuthUser


class User(AbstractUser):
    """A panel account, kept in the panel's schema. A bar manager's account may be linked to their own BarTender
    user (``bartender_user``, an ``auth.users`` id: no database constraint, the product stays free to delete it)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=150, blank=True)
    bartender_user = models.ForeignKey(
        AuthUser,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
        help_text="The BarTender user (auth.users) this account belongs to, if any.",
    )

    class Meta:
        db_table = "accounts"

    def __str__(self):
        return self.display_name or self.username
