"""Core models, one module per concept (STYLE.md: a package once past ~400 lines)."""

from adminpanel.models.api import ApiClient
from adminpanel.models.audit import PanelEvent
from adminpanel.models.bartender import (
    AuditLog,
    Bar,
    BarMember,
    Consignment,
    MemberRole,
    MigrationServerIdLog,
    OperatingMode,
    Return,
    Sale,
    User,
)
from adminpanel.models.health import Alert, AlertEvent, CheckResult, CheckStatus, HealthRun, PhaseWindow
from adminpanel.models.permissions import BarGroupObjectPermission, BarUserObjectPermission

__all__ = [
    "Alert",
    "AlertEvent",
    "AlertEvent",
    "ApiClient",
    "AuditLog",
    "Bar",
    "BarGroupObjectPermission",
    "BarMember",
    "BarUserObjectPermission",
    "CheckResult",
    "CheckStatus",
    "Consignment",
    "HealthRun",
    "MemberRole",
    "MigrationServerIdLog",
    "OperatingMode",
    "PanelEvent",
    "PhaseWindow",
    "PhaseWindow",
    "Return",
    "Sale",
    "User",
]
