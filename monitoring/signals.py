"""What monitoring announces to the apps above it, which connect in their ``AppConfig.ready()`` (DESIGN.md
section 2: a lower app never imports a higher one).

- ``critical_alert_opened``: a critical alert's safeguard tripped (kwarg ``alert``): the check was critical in
  ``HEALTH_CONSECUTIVE_FAILURES`` consecutive runs (one for the runbook's critical alerts, two for the rest), so a
  single blip never sets off automatic action. Sent once per alert. The rollout connects its automatic
  protection (the kill switch) here.
- the expected adoption: the share of bars in simplified mode the current rollout stage has put in place,
  which the adoption check compares with the real share. The rollout provides it with
  ``provide_expected_adoption``; without a provider it is 0.
"""

from collections.abc import Callable

from django.dispatch import Signal

critical_alert_opened = Signal()

_expected_adoption: list[Callable[[], float]] = []


def provide_expected_adoption(provider: Callable[[], float]) -> None:
    """Register the one function that answers the expected simplified-mode share, in % (a later one replaces it)."""
    _expected_adoption[:] = [provider]


def expected_adoption_from_provider() -> float:
    return float(_expected_adoption[0]()) if _expected_adoption else 0.0
