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
from adminpanel.models.validation import ValidationCheck as ValidationCheck
from adminpanel.models.validation import ValidationRun as ValidationRun

__all__ = [
    "Alert",
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
    "Return",
    "Sale",
    "User",
]
