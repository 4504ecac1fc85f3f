"""Server-name normalisation and resolution of a name typed on the POS to a bar member.

``resolve_server_name`` is the runbook's "error blocking": a sale in simplified mode carries a server only
when the typed name resolves; otherwise the POS gets one of the domain errors below and refuses the sale.
"""

from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from adminpanel.models import BarMember
from adminpanel.models.bartender import active_user_q, full_name_of, login_of
from mappings.models import ServerNameMapping
from mappings.names import ELIGIBLE_ROLES, display_server_name, normalize_server_name, server_name_problem


class ServerNameResolutionError(Exception):
    """A typed server name that the POS must refuse; `code` is what API clients switch on."""

    code = "server_name_resolution_failed"

    def __init__(self, message: str, *, name: str = "", detail: dict | None = None):
        super().__init__(message)
        self.message = message
        self.name = name
        self.detail = detail or {}

    def as_dict(self) -> dict:
        """The API's 422 body (the resolver tester shows the same)."""
        body = {"error": self.code, "message": self.message}
        if self.detail:
            body["detail"] = self.detail
        return body


class UnknownServerName(ServerNameResolutionError):
    code = "unknown_server_name"


class InvalidServerName(UnknownServerName):
    """Empty, or longer than any mapping may be: it can never resolve."""

    code = "invalid_server_name"


class InactiveServer(ServerNameResolutionError):
    code = "inactive_server"


class AmbiguousName(ServerNameResolutionError):
    code = "ambiguous_name"


@dataclass(frozen=True)
class Resolution:
    user: object
    mapping_id: int
    server_name: str
    normalized_name: str

    def as_dict(self) -> dict:
        """The API's 200 body (the resolver tester shows the same)."""
        return {
            "user_id": str(self.user.pk),
            "username": self.user.username,
            "display_name": self.user.display_name,
            "mapping_id": self.mapping_id,
            "server_name": self.server_name,
        }


def resolve_server_name(*, bar, name: str):
    """The active bar member `name` is mapped to, or a `ServerNameResolutionError` subclass.

    A known name costs one indexed query (the unique index on ``(bar_id, normalized_name)``).
    """
    return resolve_server_name_in_detail(bar=bar, name=name).user


def resolve_server_name_in_detail(*, bar, name: str) -> Resolution:
    """Like `resolve_server_name`, also saying which mapping matched (for the tester and the API)."""
    bar_id = getattr(bar, "pk", bar)
    key = normalize_server_name(name if isinstance(name, str) else "")
    problem = server_name_problem(key)
    if problem:
        raise InvalidServerName(problem, name=name)
    membership_role = BarMember.objects.filter(
        bar_id=OuterRef("bar_id"), user_id=OuterRef("user_id"), is_active=True
    ).values("role")[:1]
    mapping = (
        ServerNameMapping.objects.filter(bar_id=bar_id, normalized_name=key)
        .select_related("user")
        .annotate(active_role=Subquery(membership_role))
        .order_by()
        .first()
    )
    if mapping is None:
        _raise_unknown(bar_id=bar_id, name=name, key=key)
    if not mapping.user.is_active:
        raise InactiveServer(
            f"“{mapping.server_name}” is mapped to {mapping.user.username}, whose account is disabled.",
            name=name,
            detail={"mapping_id": mapping.pk, "reason": "account_inactive"},
        )
    if mapping.active_role not in ELIGIBLE_ROLES:
        reason = "membership_inactive" if mapping.active_role is None else "role_not_eligible"
        raise InactiveServer(
            f"“{mapping.server_name}” is mapped to {mapping.user.username}, "
            "who is no longer an active server or manager of this bar.",
            name=name,
            detail={"mapping_id": mapping.pk, "reason": reason},
        )
    return Resolution(user=mapping.user, mapping_id=mapping.pk, server_name=mapping.server_name, normalized_name=key)


def _raise_unknown(*, bar_id, name: str, key: str):
    """No mapping: say whether several members answer to that name (ambiguous) or none is mapped (unknown)."""
    namesakes = sorted(
        username
        for username, display_name in BarMember.objects.filter(
            active_user_q("user__"), bar_id=bar_id, is_active=True, role__in=ELIGIBLE_ROLES
        )
        .annotate(login=login_of("user__"), full_name=full_name_of("user__"))
        .values_list("login", "full_name")
        if normalize_server_name(display_name or username) == key
    )
    if len(namesakes) > 1:
        raise AmbiguousName(
            f"{len(namesakes)} members of this bar are called “{display_server_name(name)}”; "
            "a manager must map the name to one of them.",
            name=name,
            detail={"candidates": len(namesakes)},
        )
    raise UnknownServerName(f"No server of this bar is mapped to “{display_server_name(name)}”.", name=name)
