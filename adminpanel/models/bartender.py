"""BarTender's own tables, as the product has them: unmanaged models (no Django migration ever creates, alters or
drops them). The runbook's migration files add `server_id`, `server_name_mappings` and `migration_server_id_log`
(Phase 2, run by the panel: `backfill.phase2`). References between them are the product's own constraints;
Django is told DO_NOTHING so that an ORM delete leaves the cascade to the database."""

import uuid
from datetime import UTC, datetime

from django.db import models
from django.db.models import Q
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce, Now
from django.utils import timezone

BANNED_FOR_GOOD = datetime(9999, 12, 31, tzinfo=UTC)


def active_user_q(prefix: str = "") -> Q:
    """A BarTender user who may sign in (not banned, or the ban is over), for a filter through ``prefix``."""
    return Q(**{f"{prefix}banned_until__isnull": True}) | Q(**{f"{prefix}banned_until__lte": Now()})


def login_of(prefix: str = ""):
    """The login of a BarTender user as an expression (metadata ``username``, else the e-mail address)."""
    meta = f"{prefix}raw_user_meta_data"
    return Coalesce(KeyTextTransform("username", meta), f"{prefix}email", output_field=models.TextField())


def full_name_of(prefix: str = ""):
    """The name a BarTender user goes by, as an expression (metadata ``full_name`` or ``name``, else empty)."""
    meta = f"{prefix}raw_user_meta_data"
    return Coalesce(
        KeyTextTransform("full_name", meta), KeyTextTransform("name", meta), models.Value(""),
        output_field=models.TextField(),
    )  # fmt: skip


class AuthUserQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active_user_q())

    def named(self):
        """With ``login`` and ``full_name`` annotated, so they can be searched, ordered and listed."""
        return self.annotate(login=login_of(), full_name=full_name_of())


class AuthUser(models.Model):
    """Supabase's ``auth.users``: BarTender's users (servers, managers, owners)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    email = models.TextField(null=True, blank=True)
    raw_user_meta_data = models.JSONField(default=dict, blank=True)
    banned_until = models.DateTimeField(null=True, blank=True, help_text="Supabase: the account may not sign in.")
    created_at = models.DateTimeField(default=timezone.now)

    objects = AuthUserQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = '"auth"."users"'
        verbose_name = "BarTender user"
        ordering = ["email"]

    def __str__(self):
        return self.display_name or self.username

    @property
    def username(self) -> str:
        """The login the product shows (metadata ``username``, else the e-mail address)."""
        meta = self.raw_user_meta_data if isinstance(self.raw_user_meta_data, dict) else {}
        return str(meta.get("username") or self.email or str(self.pk)[:8])

    @property
    def display_name(self) -> str:
        meta = self.raw_user_meta_data if isinstance(self.raw_user_meta_data, dict) else {}
        return str(meta.get("full_name") or meta.get("name") or "")

    @property
    def is_active(self) -> bool:
        return self.banned_until is None or self.banned_until <= timezone.now()

    @is_active.setter
    def is_active(self, value: bool) -> None:
        """Supabase disables an account by banning it (``banned_until``), here for good."""
        self.banned_until = None if value else BANNED_FOR_GOOD


class OperatingMode(models.TextChoices):
    FULL = "full", "Full"
    SIMPLIFIED = "simplified", "Simplified"


class Bar(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.TextField()
    settings = models.JSONField(default=dict, blank=True)
    is_internal = models.BooleanField(default=False, help_text="Internal test bar (rollout stage 4a).")
    last_sale_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "bars"
        ordering = ["name"]

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
    id = models.BigAutoField(primary_key=True)
    bar = models.ForeignKey(Bar, on_delete=models.DO_NOTHING, related_name="members")
    user = models.ForeignKey(AuthUser, on_delete=models.DO_NOTHING, related_name="bar_memberships")
    role = models.TextField(choices=MemberRole.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "bar_members"
        constraints = [
            models.UniqueConstraint(fields=["bar", "user"], name="bar_members_unique_bar_user"),
            models.CheckConstraint(condition=Q(role__in=MemberRole.values), name="bar_members_role_valid"),
        ]

    def __str__(self):
        return f"{self.user} ({self.role}) @ {self.bar}"


class Sale(models.Model):
    id = models.BigAutoField(primary_key=True)
    bar = models.ForeignKey(Bar, on_delete=models.DO_NOTHING, related_name="sales")
    # Runbook step 1 adds server_id; step 4 makes the database rule ON DELETE SET NULL.
    server = models.ForeignKey(
        AuthUser, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="served_sales",
        db_column="server_id",
    )  # fmt: skip
    created_by = models.ForeignKey(
        AuthUser, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="created_sales",
        db_column="created_by",
    )  # fmt: skip
    server_name = models.TextField(null=True, blank=True, help_text="Name typed on the POS in simplified mode.")
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "sales"

    def __str__(self):
        return f"sale {self.pk} of bar {self.bar_id}"


class Consignment(models.Model):
    id = models.BigAutoField(primary_key=True)
    bar = models.ForeignKey(Bar, on_delete=models.DO_NOTHING, related_name="consignments")
    server = models.ForeignKey(
        AuthUser, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="served_consignments",
        db_column="server_id",
    )  # fmt: skip
    created_by = models.ForeignKey(
        AuthUser, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="created_consignments",
        db_column="created_by",
    )  # fmt: skip
    server_name = models.TextField(null=True, blank=True)
    customer_name = models.TextField(blank=True, default="")
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "consignments"

    def __str__(self):
        return f"consignment {self.pk} of bar {self.bar_id}"


class Return(models.Model):
    id = models.BigAutoField(primary_key=True)
    bar = models.ForeignKey(Bar, on_delete=models.DO_NOTHING, related_name="returns")
    sale = models.ForeignKey(Sale, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="returns")
    server = models.ForeignKey(
        AuthUser, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="served_returns",
        db_column="server_id",
    )  # fmt: skip
    created_by = models.ForeignKey(
        AuthUser, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="created_returns",
        db_column="created_by",
    )  # fmt: skip
    reason = models.TextField(blank=True, default="")
    amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "returns"

    def __str__(self):
        return f"return {self.pk} of bar {self.bar_id}"


class AuditLog(models.Model):
    """What the BarTender app reports (errors, RLS violations, resolution failures); health checks read it."""

    class Level(models.TextChoices):
        DEBUG = "debug", "Debug"
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    id = models.BigAutoField(primary_key=True)
    bar = models.ForeignKey(Bar, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="audit_logs")
    user = models.ForeignKey(AuthUser, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="audit_logs")
    level = models.TextField(choices=Level.choices, default=Level.INFO)
    error_type = models.TextField(blank=True, default="")
    error_message = models.TextField(blank=True, default="")
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "audit_logs"

    def __str__(self):
        return f"{self.level} {self.error_type}: {self.error_message[:60]}"


class MigrationServerIdLog(models.Model):
    """Runbook step 6: one row per backfilled sale (or consignment / return), with the fallback used."""

    id = models.BigAutoField(primary_key=True)
    sale_id = models.BigIntegerField(null=True, blank=True, unique=True)
    consignment_id = models.BigIntegerField(null=True, blank=True, unique=True)
    return_id = models.BigIntegerField(null=True, blank=True, unique=True)
    bar = models.ForeignKey(Bar, on_delete=models.DO_NOTHING, null=True, blank=True, related_name="+")
    server_name = models.TextField(null=True, blank=True)
    resolved_server_id = models.UUIDField(null=True, blank=True)
    fallback_used = models.BooleanField(default=False)
    fallback_reason = models.TextField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
        db_table = "migration_server_id_log"

    def __str__(self):
        return f"backfill log {self.pk} ({self.fallback_reason or 'mapped'})"
