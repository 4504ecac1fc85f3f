"""Rollout services (flags, stages, gates, rollback): built by the rollout issue."""


def on_critical_alert_opened(*, alert) -> None:
    """Called by the health-check alerting when a critical alert opens (or escalates to critical).

    The rollout issue implements the automatic rollback here (ROLLOUT_AUTO_ROLLBACK); until then it does nothing.
    """
    return None
