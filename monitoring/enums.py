"""Monitoring's vocabularies (statuses, severities, kinds): what the apps above it name without reading its models
(DESIGN §2: cross-app reads go through selectors; these are words, not reads)."""

from django.db import models


class CheckStatus(models.TextChoices):
    OK = "ok", "OK"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"
    UNKNOWN = "unknown", "Unknown"
    # A rate check whose sample is below the minimum it declares (HEALTH_MIN_SAMPLES): it judges nothing, so it
    # is never warning or critical and never opens an alert ("not enough data (3 sales)").
    INSUFFICIENT = "insufficient", "Not enough data"

    @classmethod
    def rank(cls, status: str) -> int:
        """How bad a status is: ok = not enough data < unknown < warning < critical (anything else: unknown)."""
        return _SEVERITY_RANK.get(status, 1)

    @classmethod
    def worst(cls, statuses, *, default: str = "ok") -> str:
        """The most severe of `statuses` (`default` when there are none)."""
        return max(statuses, key=cls.rank, default=default)


_SEVERITY_RANK = {
    CheckStatus.OK: 0,
    CheckStatus.INSUFFICIENT: 0,  # "not enough data" judges nothing: as good as ok for every ranking
    CheckStatus.UNKNOWN: 1,
    CheckStatus.WARNING: 2,
    CheckStatus.CRITICAL: 3,
}


class AlertState(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class PhaseKind(models.TextChoices):
    PHASE3 = "phase3", "Phase 3: 15-minute post-deployment monitor"
    DAY1 = "day1", "Day 1 after full rollout"
    WEEK1 = "week1", "Week 1 after full rollout"


class PhaseVerdict(models.TextChoices):
    PENDING = "pending", "Running"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Failed"
    INCONCLUSIVE = "inconclusive", "Inconclusive"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    HIGH = "high", "High"
    MEDIUM = "medium", "Medium"


class IncidentStatus(models.TextChoices):
    INVESTIGATING = "investigating", "Investigating"
    MITIGATING = "mitigating", "Mitigating"
    RESOLVED = "resolved", "Resolved"


class IncidentSource(models.TextChoices):
    MANUAL = "manual", "Opened by hand"
    KILL_SWITCH = "kill_switch", "Kill switch pulled"
    AUTO_ROLLBACK = "auto_rollback", "Automatic rollback after a critical alert"
    ALERTMANAGER = "alertmanager", "Alertmanager alert (webhook trigger)"
    CRITICAL_ALERT = "critical_alert", "Critical alert the flags do not cure (no rollback)"
