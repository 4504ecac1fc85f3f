"""Server name mappings: the per-bar table that turns a name typed on the POS into a user."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from adminpanel.models import Bar
from mappings.resolve import MAX_SERVER_NAME_LENGTH, normalize_server_name


class ServerNameMapping(models.Model):
    bar = models.ForeignKey(Bar, on_delete=models.CASCADE, related_name="server_name_mappings")
    server_name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=MAX_SERVER_NAME_LENGTH * 4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="server_name_mappings")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "server_name_mappings"
        ordering = ["normalized_name"]
        constraints = [
            models.UniqueConstraint(fields=["bar", "normalized_name"], name="server_name_mappings_unique_normalized"),
            models.CheckConstraint(
                condition=Q(LessThanOrEqual(Length("normalized_name"), MAX_SERVER_NAME_LENGTH))
                & ~Q(normalized_name=""),
                name="server_name_mappings_normalized_length",
            ),
        ]

    def __str__(self):
        return f"{self.server_name} → {self.user}"

    def save(self, *args, **kwargs):
        self.normalized_name = normalize_server_name(self.server_name)
        super().save(*args, **kwargs)


class BarMappingScope(Bar):
    """Proxy that carries the ``mappings.manage_bar_mappings`` object permission for bars."""

    class Meta:
        proxy = True
        default_permissions = ()
        permissions = [("manage_bar_mappings", "Can manage the server name mappings of this bar")]
