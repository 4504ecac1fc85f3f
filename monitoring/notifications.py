"""Notifications: alerts go by Django mail to ``ALERT_EMAILS`` and an optional JSON POST to ``ALERT_WEBHOOK_URL``;
incidents (monitoring/incidents/) go to the contacts of the chain through the same channels and retries.

The channels, their retries and the delivery loop are the one outbox's (``adminpanel.outbox``): each channel is
tried ``ALERT_NOTIFY_ATTEMPTS`` times with a doubling delay, each webhook call bounded by
``ALERT_WEBHOOK_TIMEOUT``; what still fails is reported back so the event stays pending (see
``monitoring.health.alerts`` and ``monitoring.incidents.escalation``).
"""

from django.conf import settings
from django.core.mail import send_mail

from adminpanel import outbox
from monitoring.health import check_presentation

MAIL, WEBHOOK = "mail", "webhook"


def payload(*, event) -> dict:
    """What every channel says about an alert event: the machine fields, and under "lines" the words the alert
    list shows (monitoring.health.check_presentation.alert_lines), which the mail body is made of."""
    alert = event.alert
    result = alert.last_result
    lines = check_presentation.alert_lines(alert, event_kind=event.kind)
    runbook = dict(lines).get("Runbook", "")
    if runbook.startswith("/") and settings.PANEL_URL:
        lines = [
            (label, settings.PANEL_URL.rstrip("/") + text if label == "Runbook" else text) for label, text in lines
        ]
    return {
        "subject": check_presentation.alert_subject(alert, event_kind=event.kind),
        "lines": [[label, text] for label, text in lines],
        "event": event.kind,
        "check": alert.check_name,
        "severity": alert.severity,
        "state": alert.state,
        "alert_id": alert.pk,
        "opened_at": alert.opened_at.isoformat(),
        "at": event.created_at.isoformat(),
        "value": result.value if result else None,
        "threshold": result.threshold if result else "",
        "error": result.error if result else "",
        "failing_runs": result.streak_text if result else "",
        "sample": result.sample_text if result else "",
    }


def _subject(data: dict) -> str:
    return data.get("subject") or f"[BarTender health] {data['severity'].upper()} {data['check']} {data['event']}"


def _body(data: dict) -> str:
    """An alert's lines in words (the alert list's); other messages (rollout steps): their fields, one a line."""
    if data.get("lines"):
        lines = [f"{label}: {text}" for label, text in data["lines"]]
        lines.append(f"Alert #{data['alert_id']}, opened {data['opened_at']}")
    else:
        lines = [f"{key}: {value}" for key, value in data.items() if value not in (None, "")]
    return "\n".join(lines) + "\n"


def notify(*, event, skip=frozenset()) -> tuple[set[str], list[str]]:
    """Send one alert event on every configured channel not in ``skip``; returns (channels done, errors)."""
    data = payload(event=event)
    return deliver(subject=_subject(data), data=data, skip=skip)


def deliver(*, subject: str, data: dict, skip=frozenset()) -> tuple[set[str], list[str]]:
    """Send one message (mail: ``subject`` and ``data`` as lines; webhook: ``data`` as JSON) on every configured
    channel not in ``skip``; returns (channels done, errors). Alerts and the rollout's automatic steps both go
    out this way, so whoever watches the alerts sees the autopilot too."""
    channels = {}
    if settings.ALERT_EMAILS:
        channels[MAIL] = (
            MAIL,
            lambda: send_mail(subject, _body(data), settings.DEFAULT_FROM_EMAIL, settings.ALERT_EMAILS),
        )
    if settings.ALERT_WEBHOOK_URL:
        channels[WEBHOOK] = (
            WEBHOOK,
            lambda: outbox.post_webhook(
                url=settings.ALERT_WEBHOOK_URL, data=data, timeout=settings.ALERT_WEBHOOK_TIMEOUT
            ),
        )
    return outbox.send_on_channels(channels, skip=skip)
