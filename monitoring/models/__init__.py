"""Monitoring models, one module per concept (STYLE.md: a package once past ~400 lines): health runs, results,
alerts and phase windows in ``health``; the contact chain and incidents in ``incidents``."""

from monitoring.models.health import (
    Alert,
    AlertEvent,
    CheckResult,
    CheckStatus,
    HealthRun,
    PhaseWindow,
    WorkerHeartbeat,
)
from monitoring.models.incidents import (
    Contact,
    ContactTier,
    Incident,
    IncidentNotification,
    IncidentStatus,
    IncidentUpdate,
    Severity,
)

__all__ = [
    "Alert",
    "AlertEvent",
    "CheckResult",
    "CheckStatus",
    "Contact",
    "ContactTier",
    "HealthRun",
    "Incident",
    "IncidentNotification",
    "IncidentStatus",
    "IncidentUpdate",
    "PhaseWindow",
    "Severity",
    "WorkerHeartbeat",
]
