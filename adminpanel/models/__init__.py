"""Core models, one module per concept (STYLE.md: a package once past ~400 lines)."""

from adminpanel.models.accounts import User
from adminpanel.models.api import ApiClient
from adminpanel.models.audit import PanelEvent
from adminpanel.models.bartender import (
    AuditLog,
    AuthUser,
    Bar,
    BarMember,
    Consignment,
    MemberRole,
    MigrationServerIdLog,
    OperatingMode,
    Return,
    Sale,
)
from adminpanel.models.confirmations import UsedConfirmation
from adminpanel.models.permissions import BarGroupObjectPermission, BarUserObjectPermission

__all__ = [
    "ApiClient",
    "AuditLog",
    "AuthUser",
    "Bar",
    "BarGroupObjectPermission",
    "BarMember",
    "BarUserObjectPermission",
    "Consignment",
    "MemberRole",
    "MigrationServerIdLog",
    "OperatingMode",
    "PanelEvent",
    "Return",
    "Sale",
    "UsedConfirmation",
    "User",
]
