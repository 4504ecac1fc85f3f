"""Server name mappings: the per-bar table that turns a name typed on the POS into a user."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone

from adminpanel.models import AuthUser, Bar, BarMember
from adminpanel.models.bartender import active_user_q, login_of
from mappings.names import (
    ELIGIBLE_ROLES,
    MAX_SERVER_NAME_LENGTH,
    display_server_name,
    name_skeleton,
    normalize_server_name,
    server_name_problem,
)

DUPLICATE_NAME_MESSAGE = "This bar already maps that name (names match whatever their case or spacing)."
NOT_ELIGIBLE_MESSAGE = "The user must be an active server or manager of this bar."


def look_alike_message(name: str, existing: str, username: str) -> str:
    """Why a name that reads like an existing mapping is refused, naming that mapping."""
    return (
        f"“{name}” looks like “{existing}”, which this bar already maps to {username}: a name that reads the "
        "same would send sales to the wrong server. Choose a name that reads differently."
    )


class ServerNameMapping(models.Model):
    """BarTender's table (runbook step 2), unmanaged. Who changed a mapping is the panel's own history
    (``panel_events``), never a column of the product's table."""

    id = models.BigAutoField(primary_key=True)
    bar = models.ForeignKey(Bar, on_delete=models.DO_NOTHING, related_name="server_name_mappings")
    server_name = models.CharField(max_length=200)
    normalized_name = models.CharField(max_length=MAX_SERVER_NAME_LENGTH * 4, editable=False)
    user = models.ForeignKey(AuthUser, on_delete=models.DO_NOTHING, related_name="server_name_mappings")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        managed = False
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

    def full_clean(self, exclude=None, validate_unique=True, validate_constraints=True):
        # normalized_name is derived in clean(); the rules its constraints express are checked there, by field.
        exclude = set(exclude or ()) | {"normalized_name"}
        super().full_clean(exclude=exclude, validate_unique=validate_unique, validate_constraints=validate_constraints)

    def clean(self):
        """The rules of issue 3, as errors on the field they concern (the database constraints back them)."""
        self.server_name = display_server_name(self.server_name)
        self.normalized_name = normalize_server_name(self.server_name)
        errors = {}
        problem = server_name_problem(self.normalized_name)
        if problem:
            errors["server_name"] = problem
        elif self.bar_id and (
            ServerNameMapping.objects.filter(bar_id=self.bar_id, normalized_name=self.normalized_name)
            .exclude(pk=self.pk)
            .exists()
        ):
            errors["server_name"] = DUPLICATE_NAME_MESSAGE
        elif self.bar_id:
            twin = find_look_alike(bar_id=self.bar_id, key=self.normalized_name, exclude_pk=self.pk)
            if twin is not None:
                errors["server_name"] = look_alike_message(self.server_name, *twin)
        if self.bar_id and self.user_id and not is_eligible_member(bar_id=self.bar_id, user_id=self.user_id):
            errors["user"] = NOT_ELIGIBLE_MESSAGE
        if errors:
            raise ValidationError(errors)


def find_look_alike(*, bar_id, key: str, exclude_pk=None) -> tuple[str, str] | None:
    """(server name, username) of a mapping of the bar whose name looks like `key` without being it (same
    confusable skeleton: "Marіe" with a Cyrillic і beside "Marie"), or None. One query for the bar's names;
    skeletons are cached per process."""
    skeleton = name_skeleton(key)
    names = ServerNameMapping.objects.filter(bar_id=bar_id).exclude(normalized_name=key)
    if exclude_pk is not None:
        names = names.exclude(pk=exclude_pk)
    rows = names.annotate(login=login_of("user__")).values_list("server_name", "normalized_name", "login")
    for server_name, normalized, username in rows:
        if name_skeleton(normalized) == skeleton:
            return server_name, username
    return None


def eligible_members(bar_id):
    """Active memberships of a bar whose user a name may be mapped to (active account, server or manager)."""
    return BarMember.objects.filter(active_user_q("user__"), bar_id=bar_id, is_active=True, role__in=ELIGIBLE_ROLES)


def is_eligible_member(*, bar_id, user_id) -> bool:
    return eligible_members(bar_id).filter(user_id=user_id).exists()


class BarMappingScope(Bar):
    """Proxy that carries the ``mappings.manage_bar_mappings`` object permission for bars."""

    class Meta:
        proxy = True
        default_permissions = ()
        permissions = [("manage_bar_mappings", "Can manage the server name mappings of this bar")]
