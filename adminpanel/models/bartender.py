"""The BarTender schema the panel owns, with the runbook's table names so its SQL runs unchanged."""

import uuid

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KT
from django.utils import timezone


class User(AbstractUser):
    """Stands in for Supabase's ``auth.users``: UUID keys, shared by BarTender staff and panel users."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=150, blank=True)

    class Meta:
        db_table = "users"

    def __str__(self):
        return self.display_name or self.username


class OperatingMode(models.TextChoices):
    FULL = "full", "Full"
    SIMPLIFIED = "simplified", "Simplified"


class Bar(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    settings = models.JSONField(default=dict, blank=True)
    is_internal = models.BooleanField(default=False, help_text="Internal test bar (rollout stage 4a).")
    last_sale_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bars"
        ordering = ["name"]
        indexes = [
            # Runbook step 5 (20251224130500_add_operating_mode_index).
            models.Index(KT("settings__operatingMode"), name="idx_bars_operating_mode"),
        ]

    def __str__(self):
        return self.name

    @property
    def operating_mode(self) -> str | None:
        return (self.settings or {}).get("operatingMode")


class MemberRole(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    SERVER = "server", "Server"


class BarMember(models.Model):
    bar = models.ForeignKey(Bar, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="bar_memberships")
    role = models.CharField(max_length=20, choices=MemberRole.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "bar_members"
        constraints = [
            models.UniqueConstraint(fields=["bar", "user"], name="bar_members_unique_bar_user"),
            models.CheckConstraint(condition=Q(role__in=MemberRole.values), name="bar_members_role_valid"),
        ]
        indexes = [models.Index(fields=["user", "bar"], name="bar_members_user_bar_idx")]

    def __str__(self):
        return f"{self.user} ({self.role}) @ {self.bar}"


class Sale(models.Model):
    bar = models.ForeignKey(Bar, on_delete=models.CASCADE, related_name="sales", db_index=False)
    # Runbook step 1 adds server_id; step 4 makes the database rule ON DELETE SET NULL (raw SQL,
    # since Django's DB_SET_NULL cannot be mixed with the Python-level cascades other apps put on users).
    server = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="served_sales", db_column="server_id"
    )
    created_by = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="created_sales")
    server_name = models.TextField(null=True, blank=True, help_text="Name typed on the POS in simplified mode.")
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "sales"
        indexes = [
            models.Index(fields=["bar", "created_at"], name="sales_bar_created_idx"),
            models.Index(fields=["created_at"], name="sales_created_at_idx"),
        ]

    def __str__(self):
        return f"sale {self.pk} of bar {self.bar_id}"


class Consignment(models.Model):
    bar = models.ForeignKey(Bar, on_delete=models.CASCADE, related_name="consignments", db_index=False)
    server = models.ForeignKey(
        User,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="served_consignments",
        db_column="server_id",
    )
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="created_consignments"
    )
    server_name = models.TextField(null=True, blank=True)
    customer_name = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "consignments"
        indexes = [models.Index(fields=["bar", "created_at"], name="consignments_bar_created_idx")]

    def __str__(self):
        return f"consignment {self.pk} of bar {self.bar_id}"


class Return(models.Model):
    bar = models.ForeignKey(Bar, on_delete=models.CASCADE, related_name="returns", db_index=False)
    sale = models.ForeignKey(Sale, on_delete=models.SET_NULL, null=True, blank=True, related_name="returns")
    server = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="served_returns", db_column="server_id"
    )
    created_by = models.ForeignKey(
        User, on_delete=models.SET_NULL, null=True, blank=True, related_name="created_returns"
    )
    reason = models.CharField(max_length=200, blank=True)
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "returns"
        indexes = [models.Index(fields=["bar", "created_at"], name="returns_bar_created_idx")]

    def __str__(self):
        return f"return {self.pk} of bar {self.bar_id}"


class AuditLog(models.Model):
    """What the BarTender app reports (errors, RLS violations, resolution failures); health checks read it."""

    class Level(models.TextChoices):
        DEBUG = "debug", "Debug"
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    bar = models.ForeignKey(Bar, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_logs")
    user = models.ForeignKey(User, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_logs")
    level = models.CharField(max_length=10, choices=Level.choices, default=Level.INFO)
    error_type = models.CharField(max_length=64, blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "audit_logs"
        indexes = [
            models.Index(fields=["created_at"], name="audit_logs_created_idx"),
            models.Index(fields=["level", "created_at"], name="audit_logs_level_created_idx"),
            models.Index(fields=["error_type", "created_at"], name="audit_logs_type_created_idx"),
        ]

    def __str__(self):
        return f"{self.level} {self.error_type}: {self.error_message[:60]}"


class MigrationServerIdLog(models.Model):
    """Runbook step 6: one row per backfilled sale (or consignment / return), with the fallback used."""

    sale_id = models.BigIntegerField(null=True, blank=True, unique=True)
    consignment_id = models.BigIntegerField(null=True, blank=True, unique=True)
    return_id = models.BigIntegerField(null=True, blank=True, unique=True)
    bar = models.ForeignKey(Bar, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    server_name = models.TextField(null=True, blank=True)
    resolved_server_id = models.UUIDField(null=True, blank=True)
    fallback_used = models.BooleanField(default=False)
    fallback_reason = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "migration_server_id_log"
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(sale_id__isnull=False, consignment_id__isnull=True, return_id__isnull=True)
                    | Q(sale_id__isnull=True, consignment_id__isnull=False, return_id__isnull=True)
                    | Q(sale_id__isnull=True, consignment_id__isnull=True, return_id__isnull=False)
                ),
                name="migration_log_exactly_one_source",
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="migration_log_created_idx"),
            models.Index(fields=["fallback_used", "fallback_reason"], name="migration_log_fallback_idx"),
        ]

    def __str__(self):
        return f"backfill log {self.pk} ({self.fallback_reason or 'mapped'})"
