"""What monitoring announces to the apps above it, which connect in their ``AppConfig.ready()`` (DESIGN.md
section 2: a lower app never imports a higher one).

- the critical-alert handler: called once per alert whose safeguard tripped (the check was critical in
  ``HEALTH_CONSECUTIVE_FAILURES`` consecutive runs, one for the runbook's critical alerts, two for the rest), so a
  single blip never sets off automatic action. The rollout registers
  ``rollout.killswitch.critical_alerts.handle_critical_alert`` with ``handle_critical_alerts_with``: one named
  function, found from ``monitoring.health.services.announce_critical``.
- the expected adoption: the share of bars in simplified mode the current rollout stage has put in place,
  which the adoption check compares with the real share. The rollout provides it with
  ``provide_expected_adoption``; without a provider it is 0.
- the actions taken during an incident: what the rollout timeline recorded in a window (kill switch, automatic
  rollback, pauses, stage changes), which an incident page and its communication template list. The rollout
  provides them with ``provide_incident_actions``; without a provider there are none.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

_critical_alert_handler: list[Callable[..., None]] = []


def handle_critical_alerts_with(handler: Callable[..., None]) -> None:
    """Register the one function ``handler(alert=…)`` called for each critical alert whose safeguard tripped (a
    later one replaces it). The rollout registers ``rollout.killswitch.critical_alerts.handle_critical_alert`` at
    start-up."""
    _critical_alert_handler[:] = [handler]


def critical_alert_handler() -> Callable[..., None] | None:
    return _critical_alert_handler[0] if _critical_alert_handler else None

_expected_adoption: list[Callable[[], float]] = []


def provide_expected_adoption(provider: Callable[[], float]) -> None:
    """Register the one function that answers the expected simplified-mode share, in % (a later one replaces it)."""
    _expected_adoption[:] = [provider]


def expected_adoption_from_provider() -> float:
    return float(_expected_adoption[0]()) if _expected_adoption else 0.0


@dataclass(frozen=True)
class ActionTaken:
    """One thing done about an incident, in words: when, by whom, what and why; `category` is the runbook
    template's word for it (Rollback, Pause or Remediation)."""

    at: datetime
    actor: str
    what: str
    why: str = ""
    category: str = "Remediation"


_incident_actions: list[Callable[..., list[ActionTaken]]] = []


def provide_incident_actions(provider: Callable[..., list[ActionTaken]]) -> None:
    """Register the one function ``provider(*, start, end)`` listing the actions taken in a window, oldest first."""
    _incident_actions[:] = [provider]


def incident_actions_from_provider(*, start: datetime, end: datetime) -> list[ActionTaken]:
    return list(_incident_actions[0](start=start, end=end)) if _incident_actions else []
