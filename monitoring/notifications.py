"""Notifications: alerts go by Django mail to ``ALERT_EMAILS`` and an optional JSON POST to ``ALERT_WEBHOOK_URL``;
incidents (monitoring/incidents/) go to the contacts of the chain through the same channels and retries.

Each channel is tried ``ALERT_NOTIFY_ATTEMPTS`` times with a doubling delay, each webhook call bounded by
``ALERT_WEBHOOK_TIMEOUT``; what still fails is reported back so the event stays pending (see services.py and
incidents.py).
"""

import json
import logging
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.core.mail import send_mail
from django.utils import timezone

from monitoring.health import check_presentation

logger = logging.getLogger(__name__)

MAIL, WEBHOOK = "mail", "webhook"


def payload(*, event) -> dict:
    """What every channel says about an alert event: the machine fields, and under "lines" the words the alert
    list shows (monitoring.check_presentation.alert_lines), which the mail body is made of."""
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


def _with_retries(send, *, what: str) -> str | None:
    """Call ``send`` up to ALERT_NOTIFY_ATTEMPTS times; the last error's text, or None once it worked."""
    attempts = max(1, settings.ALERT_NOTIFY_ATTEMPTS)
    delay = settings.ALERT_NOTIFY_RETRY_DELAY
    error = None
    for attempt in range(1, attempts + 1):
        try:
            send()
            return None
        except Exception as exc:  # noqa: BLE001 (any failure of a channel is retried, then reported)
            error = f"{what}: {type(exc).__name__}: {exc}"
            logger.info("%s (attempt %s of %s)", error, attempt, attempts)
        if attempt < attempts:
            time.sleep(delay)
            delay *= 2
    return error


def post_webhook(*, url: str, data: dict, timeout: float) -> None:
    """POST ``data`` as JSON; anything but a 2xx answer raises."""
    if not url.lower().startswith(("http://", "https://")):
        raise ValueError(f"ALERT_WEBHOOK_URL must be an http(s) URL, got {url!r}")
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=json.dumps(data).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "bartender-admin-panel"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        if not 200 <= response.status < 300:
            raise urllib.error.HTTPError(url, response.status, "not a 2xx answer", response.headers, None)


def send_on_channels(channels: dict, *, skip=frozenset()) -> tuple[set[str], list[str]]:
    """Try each channel (``key: (what, send)``) whose key is not in ``skip``, each with retries; returns (keys done,
    errors). ``what`` names the channel in the error text (never a webhook's URL, which is a secret)."""
    done, errors = set(), []
    for key, (what, send) in channels.items():
        if key in skip:
            continue
        error = _with_retries(send, what=what)
        if error:
            errors.append(error)
        else:
            done.add(key)
    return done, errors


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
            lambda: post_webhook(url=settings.ALERT_WEBHOOK_URL, data=data, timeout=settings.ALERT_WEBHOOK_TIMEOUT),
        )
    return send_on_channels(channels, skip=skip)


def deliver_outbox(rows, *, send, what: str) -> int:
    """Deliver stored notifications (rows with ``attempts``, ``delivered_to``, ``last_error``, ``notified_at``:
    alert events, incident notifications). ``send(row, skip)`` returns (channels done, errors) as
    :func:`send_on_channels` does. A row with an error stays pending with the channels it reached; the rows after it
    wait for the next run rather than each waiting out the same timeouts. Returns how many were delivered."""
    delivered = 0
    for row in rows:
        done, errors = send(row, set(row.delivered_to))
        row.attempts += 1
        row.delivered_to = sorted(set(row.delivered_to) | done)
        if errors:
            row.last_error = "; ".join(errors)[:2000]
        else:
            row.notified_at, row.last_error = timezone.now(), ""
            delivered += 1
        row.save(update_fields=["attempts", "delivered_to", "last_error", "notified_at"])
        if errors:
            logger.warning("%s %s failed: %s", what, row.pk, row.last_error)
            break
    return delivered
