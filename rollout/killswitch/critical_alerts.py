"""What a critical alert does to the rollout: the kill switch for a fault the flags cure, else an incident."""

import logging

from django.conf import settings
from django.db import transaction

from monitoring.enums import IncidentSource
from monitoring.incidents import selectors as incident_selectors
from monitoring.incidents import services as incidents
from rollout.killswitch.services import pull_kill_switch
from rollout.models import RolloutState, Stage

logger = logging.getLogger(__name__)


def handle_critical_alert(*, alert) -> None:
    """The handler monitoring calls for each critical alert whose safeguard tripped
    (``monitoring.health.services.announce_critical``; registered in ``RolloutConfig.ready``)."""
    on_critical_alert_opened(alert=alert)


def on_critical_alert_opened(*, alert) -> None:
    """Called by the health-check alerting when a critical alert's safeguard trips (critical for the check's
    consecutive failing runs).

    While a stage above `off` is live and ROLLOUT_AUTO_ROLLBACK is on, the kill switch fires by itself — but only
    for a fault the flags cure (ROLLOUT_AUTO_ROLLBACK_CHECKS, DESIGN §4d); the timeline records the alert that
    caused it. Any other critical check (latency, schema, capacity) opens an incident for the tier that owns it and
    never flips a flag. A failure here is logged, never raised into the alerting.
    """
    if not settings.ROLLOUT_AUTO_ROLLBACK:
        return
    try:
        with transaction.atomic():
            state = RolloutState.objects.filter(pk=RolloutState.SINGLETON_ID).first()
            if state is None or state.stage == Stage.OFF:
                return
            runs = f" ({alert.streak_text})" if alert.streak_text else ""
            if alert.check_name not in settings.ROLLOUT_AUTO_ROLLBACK_CHECKS:
                _open_incident_without_rollback(alert=alert, state=state, runs=runs)
                return
            reason = (
                f"Critical alert #{alert.pk} on {alert.check_name}{runs} tripped its safeguard while stage "
                f"{state.stage} was live."
            )
            if pull_kill_switch(actor=None, reason=reason, alert=alert):
                logger.warning("Automatic rollback: %s", reason)
    except Exception:
        logger.exception("Automatic rollback failed for alert %s", getattr(alert, "pk", alert))


def _open_incident_without_rollback(*, alert, state: RolloutState, runs: str) -> None:
    """A critical alert the flags do not cure: an incident (once per alert), the flags left as they are."""
    label = incident_selectors.check_label(alert.check_name)
    issue = (
        f"Critical alert on {label}{runs} while stage {state.stage} is live. The flags are not its cure, so no "
        "automatic rollback: the team that owns it investigates (DESIGN 4d)."
    )
    incidents.open_incident_for_event(
        trigger_key=f"alert:{alert.pk}", source=IncidentSource.CRITICAL_ALERT, issue=issue,
        started_at=alert.opened_at, alert=alert,
        fault_kind="database" if alert.check_name in settings.DATABASE_FAULT_CHECKS else "",
    )  # fmt: skip
    logger.warning("Critical alert #%s on %s: incident opened, no automatic rollback", alert.pk, alert.check_name)
