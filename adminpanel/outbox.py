"""One outbox for everything the panel tells people (DESIGN.md section 2: "one outbox"): a notification is stored
with the change it announces, then delivered on its channels (mail, webhook) by one loop with retries, so a
failing mail server or webhook never loses one and never blocks the change.

- :class:`OutboxMessage`, the abstract model every outbox table extends: when it was made and delivered, the
  channels done (a retry skips them), the attempts and the last error.
- :func:`deliver`, the one delivery loop over pending rows, and :func:`send_on_channels`, each channel tried
  ``ALERT_NOTIFY_ATTEMPTS`` times with a doubling delay (``ALERT_NOTIFY_RETRY_DELAY``); :func:`post_webhook`
  for the webhook channel, bounded by the caller's timeout.

What a message says and which channels it has stay with the app that sends it (monitoring's alerts and incidents,
the rollout's automatic steps); callers pick the pending rows (``notified_at`` unset, ``attempts`` under
``ALERT_NOTIFY_MAX_ATTEMPTS``) and hand them here.
"""

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import models
from django.utils import timezone

logger = logging.getLogger(__name__)

# (channels done, errors): what sending one message on its channels answers.
Sent = tuple[set[str], list[str]]


class OutboxMessage(models.Model):
    """The fields every outbox row shares; each concrete table adds what it says and its pending index."""

    created_at = models.DateTimeField(default=timezone.now)
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When every channel had it.")
    delivered_to = models.JSONField(default=list, blank=True, help_text="Channels done: a retry skips them.")
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        abstract = True


def with_retries(send: Callable[[], object], *, what: str) -> str | None:
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


def send_on_channels(channels: dict, *, skip=frozenset()) -> Sent:
    """Try each channel (``key: (what, send)``) whose key is not in ``skip``, each with retries; returns (keys done,
    errors). ``what`` names the channel in the error text (never a webhook's URL, which is a secret)."""
    done, errors = set(), []
    for key, (what, send) in channels.items():
        if key in skip:
            continue
        error = with_retries(send, what=what)
        if error:
            errors.append(error)
        else:
            done.add(key)
    return done, errors


def deliver(rows: Iterable[OutboxMessage], *, send: Callable[[OutboxMessage, set[str]], Sent], what: str) -> int:
    """Deliver stored notifications (pending :class:`OutboxMessage` rows). ``send(row, skip)`` returns (channels
    done, errors) as :func:`send_on_channels` does. A row with an error stays pending with the channels it reached;
    the rows after it wait for the next run rather than each waiting out the same timeouts. Returns how many were
    delivered."""
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
