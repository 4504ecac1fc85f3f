"""Alerts: one per check, opened, escalated or resolved by each run's results, acknowledged by a person, and told
by mail and webhook from their events (the alert outbox, delivered through ``adminpanel.outbox``)."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adminpanel import outbox
from adminpanel.audit import record_event
from monitoring import notifications
from monitoring.models import Alert, AlertEvent, CheckResult, CheckStatus

ALERTING = {CheckStatus.WARNING, CheckStatus.CRITICAL}
ACK_COMMENT_MAX = 2000


class AlertNotAcknowledgeable(Exception):
    """The alert is resolved, already acknowledged, or does not exist."""


class InvalidAcknowledgement(Exception):
    """The acknowledgement comment is missing or too long."""




def update_alerts(*, results) -> list[Alert]:
    """Open, escalate or resolve one alert per check from a run's results; returns the alerts whose safeguard
    tripped in this run (critical for the check's HEALTH_CONSECUTIVE_FAILURES runs in a row), the only ones
    announced for automatic action. ``unknown`` and "not enough data" leave an alert as it is (nothing is known
    either way) and never open one."""
    now = timezone.now()
    unresolved = {a.check_name: a for a in Alert.objects.select_for_update().exclude(state=Alert.State.RESOLVED)}
    tripped = []
    for result in results:
        alert = _move_alert(alert=unresolved.get(result.check_name), result=result, now=now)
        if alert and alert.is_unresolved and not alert.safeguard_tripped_at and result.counts_toward_action:
            alert.safeguard_tripped_at = now
            alert.save(update_fields=["safeguard_tripped_at"])
            AlertEvent.objects.create(
                alert=alert,
                kind=AlertEvent.Kind.SAFEGUARD,
                severity=alert.severity,
                comment=f"{result.streak_text}: counts toward automatic action.",
            )
            tripped.append(alert)
    return tripped


def _move_alert(*, alert: Alert | None, result: CheckResult, now) -> Alert | None:
    """One check's alert after one result: opened, escalated, resolved or just given the latest result."""
    if result.status == CheckStatus.OK and alert:
        alert.state, alert.resolved_at, alert.last_result = Alert.State.RESOLVED, now, result
        alert.save(update_fields=["state", "resolved_at", "last_result"])
        AlertEvent.objects.create(alert=alert, kind=AlertEvent.Kind.RESOLVED, severity=alert.severity)
    elif result.status in ALERTING and not alert:
        alert = Alert.objects.create(
            check_name=result.check_name,
            severity=result.status,
            opened_at=now,
            opened_by_result=result,
            last_result=result,
        )
        AlertEvent.objects.create(alert=alert, kind=AlertEvent.Kind.OPENED, severity=alert.severity)
    elif result.status == CheckStatus.CRITICAL and alert and alert.severity == CheckStatus.WARNING:
        # An acknowledged warning that turns critical needs someone's eyes again.
        alert.severity, alert.escalated_at, alert.state = CheckStatus.CRITICAL, now, Alert.State.OPEN
        alert.last_result = result
        alert.save(update_fields=["severity", "escalated_at", "state", "last_result"])
        AlertEvent.objects.create(alert=alert, kind=AlertEvent.Kind.ESCALATED, severity=alert.severity)
    elif alert:
        alert.last_result = result
        alert.save(update_fields=["last_result"])
    return alert


def acknowledge_alert(*, alert_id: int, user, comment: str) -> Alert:
    """Acknowledge an open alert with a comment (who and when are stored); audited."""
    comment = (comment or "").strip()
    if not comment:
        raise InvalidAcknowledgement("Say what you are doing about it: a comment is required.")
    if len(comment) > ACK_COMMENT_MAX:
        raise InvalidAcknowledgement(f"The comment is longer than {ACK_COMMENT_MAX} characters.")
    with transaction.atomic():
        alert = Alert.objects.select_for_update().filter(pk=alert_id).first()
        if alert is None or alert.state != Alert.State.OPEN:
            raise AlertNotAcknowledgeable("This alert is not open (already acknowledged or resolved).")
        before = {"state": alert.state}
        alert.state, alert.acknowledged_by, alert.acknowledged_at = Alert.State.ACKNOWLEDGED, user, timezone.now()
        alert.ack_comment = comment
        alert.save(update_fields=["state", "acknowledged_by", "acknowledged_at", "ack_comment"])
        AlertEvent.objects.create(
            alert=alert,
            kind=AlertEvent.Kind.ACKNOWLEDGED,
            severity=alert.severity,
            actor=user,
            comment=comment,
            notify=False,
        )
        record_event(
            actor=user,
            action="alert.acknowledge",
            target=alert,
            before=before,
            after={"state": alert.state, "check": alert.check_name},
            reason=comment,
        )
    return alert


def deliver_pending_notifications(*, limit: int = 100) -> int:
    """Send every undelivered alert event (mail and webhook); failures stay pending for the next run until
    ``ALERT_NOTIFY_MAX_ATTEMPTS``. Returns how many were delivered."""
    pending = (
        AlertEvent.objects.filter(
            notify=True, notified_at__isnull=True, attempts__lt=settings.ALERT_NOTIFY_MAX_ATTEMPTS
        )
        .select_related("alert__last_result")
        .order_by("id")[:limit]
    )
    return outbox.deliver(
        pending, send=lambda event, skip: notifications.notify(event=event, skip=skip), what="alert notification"
    )
