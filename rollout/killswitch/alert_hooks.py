"""The Alertmanager webhook receiver (issue 23): `POST /hooks/alertmanager/<secret>`.

Alertmanager's ``webhook_configs`` posts a version-4 payload (``{"version": "4", "status": "firing", "groupKey":
…, "alerts": [{"status", "labels", "annotations", "startsAt", …}], …}``). For a firing group the panel

- pulls the kill switch through ``rollout.killswitch.services.pull_kill_switch`` (audited, actor
  ``alertmanager:<trigger>``) when an alert of the group is labelled ``bartender_action="kill_switch"`` and an
  admin allowed this trigger to (``may_pull_kill_switch``); the kill switch opens its own critical incident, which
  is then the incident;
- otherwise opens an incident through ``monitoring.incidents.open_incident_for_event``, once per alert group
  and start (Alertmanager re-sends a firing group every ``repeat_interval``: the repeats find the same incident).

A resolved group is accepted and changes nothing: a person resolves the incident. Every call — accepted or
refused (unknown or revoked secret, over the rate limit, bad JSON) — is one ``panel_events`` row. Refusals are JSON
4xx: unknown secret 404, revoked 403, rate limit 429, bad payload 400, too big 413, not POST 405.
"""

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from adminpanel.audit import record_event
from monitoring.enums import IncidentSource, Severity
from monitoring.incidents import selectors as incident_selectors
from monitoring.incidents import services as incidents
from rollout.events import services as event_services
from rollout.events.selectors import incident_trigger_key
from rollout.killswitch import services as kill_switch_services
from rollout.models import AlertTrigger, EventKind, RolloutEvent

logger = logging.getLogger(__name__)

KILL_SWITCH_LABEL = ("bartender_action", "kill_switch")
WINDOW = timedelta(minutes=1)
SEVERITIES = {"critical": Severity.CRITICAL, "page": Severity.CRITICAL, "high": Severity.HIGH,
              "warning": Severity.HIGH, "error": Severity.HIGH}  # fmt: skip
MAX_ALERTS_NAMED = 10


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def new_secret() -> tuple[str, str]:
    """(secret shown once, its hash stored)."""
    secret = "amt_" + secrets.token_urlsafe(32)
    return secret, hash_secret(secret)


def actor_of(trigger: AlertTrigger):
    return event_services.named_actor(f"alertmanager:{trigger.name}")


@dataclass(frozen=True)
class HookAnswer:
    status: int
    body: dict


def _refuse(status: int, code: str, message: str, *, trigger=None, secret_hash: str = "") -> HookAnswer:
    record_event(
        actor=actor_of(trigger) if trigger else None,
        action="alert_hook.refused",
        target=trigger if trigger is not None else "alertmanager_hook",
        after={"status": status, "error": code, **({"secret_sha256_prefix": secret_hash[:12]} if secret_hash else {})},
        reason=message,
    )
    return HookAnswer(status, {"error": code, "message": message})


def revoke(*, actor, trigger: AlertTrigger) -> bool:
    """Revoke a trigger (its secret stops working at once). Audited; False when it already was."""
    with transaction.atomic():
        trigger = AlertTrigger.objects.select_for_update().get(pk=trigger.pk)
        if trigger.revoked_at is not None:
            return False
        trigger.revoked_at = timezone.now()
        trigger.save(update_fields=["revoked_at"])
        record_event(actor=actor, action="alert_hook.revoke", target=trigger, before={"revoked_at": None},
                     after={"revoked_at": trigger.revoked_at.isoformat()}, reason="Django admin")  # fmt: skip
    return True


# --- The payload ----------------------------------------------------------------------------------------------
class BadPayload(ValueError):
    pass


@dataclass(frozen=True)
class FiringGroup:
    group_key: str
    status: str
    alerts: list  # the firing alerts, each a dict with "labels", "annotations", "startsAt"
    severity: str
    started_at: datetime
    kill_switch_asked: bool

    def names(self) -> str:
        names = sorted({str(a["labels"].get("alertname", "unnamed")) for a in self.alerts})
        more = f" and {len(names) - MAX_ALERTS_NAMED} more" if len(names) > MAX_ALERTS_NAMED else ""
        return ", ".join(names[:MAX_ALERTS_NAMED]) + more

    def summary(self) -> str:
        for alert in self.alerts:
            text = alert["annotations"].get("summary") or alert["annotations"].get("description")
            if text:
                return str(text)[:500]
        return ""


def parse_payload(body: bytes, *, now: datetime) -> FiringGroup:
    """A version-4 Alertmanager payload, checked; BadPayload with what is wrong."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadPayload("The body is not JSON.") from exc
    if not isinstance(data, dict):
        raise BadPayload("The body must be a JSON object (Alertmanager's webhook payload).")
    if str(data.get("version")) != "4":
        raise BadPayload('Only Alertmanager\'s webhook payload version "4" is understood.')
    alerts = data.get("alerts")
    status = data.get("status")
    if status not in ("firing", "resolved") or not isinstance(alerts, list) or not alerts:
        raise BadPayload('"status" must be firing or resolved and "alerts" a non-empty list.')
    firing = []
    for alert in alerts:
        if not isinstance(alert, dict) or not isinstance(alert.get("labels"), dict):
            raise BadPayload("Every alert must be an object with a labels object.")
        if not isinstance(alert.get("annotations", {}), dict):
            raise BadPayload("An alert's annotations must be an object.")
        alert.setdefault("annotations", {})
        if alert.get("status", status) == "firing":
            firing.append(alert)
    starts = []
    for alert in firing:
        started = parse_datetime(str(alert.get("startsAt") or "")) if alert.get("startsAt") else None
        if alert.get("startsAt") and started is None:
            raise BadPayload(f"startsAt is not a time: {str(alert.get('startsAt'))[:40]}.")
        starts.append(min(started, now) if started else now)
    common = data.get("commonLabels") if isinstance(data.get("commonLabels"), dict) else {}
    raw_severity = str(common.get("severity") or (firing[0]["labels"].get("severity") if firing else "") or "")
    return FiringGroup(
        group_key=str(data.get("groupKey") or "")[:500],
        status=status,
        alerts=firing,
        severity=SEVERITIES.get(raw_severity.lower(), Severity.MEDIUM),
        started_at=min(starts) if starts else now,
        kill_switch_asked=any(str(a["labels"].get(KILL_SWITCH_LABEL[0], "")) == KILL_SWITCH_LABEL[1] for a in firing),
    )


# --- One call -------------------------------------------------------------------------------------------------
def _count_call(trigger_id: int, now: datetime) -> tuple[AlertTrigger, bool]:
    """Count this call in the trigger's one-minute window, under the row lock; (trigger, within the limit)."""
    trigger = AlertTrigger.objects.select_for_update().get(pk=trigger_id)
    if trigger.window_started_at is None or now - trigger.window_started_at >= WINDOW:
        trigger.window_started_at, trigger.window_calls = now, 0
    trigger.window_calls += 1
    trigger.last_called_at = now
    trigger.save(update_fields=["window_started_at", "window_calls", "last_called_at"])
    return trigger, trigger.window_calls <= settings.ALERT_HOOK_CALLS_PER_MINUTE


def receive(*, secret: str, read_body, now: datetime | None = None) -> HookAnswer:
    """Handle one webhook call; `read_body()` returns the request body (it may raise RequestDataTooBig)."""
    now = now or timezone.now()
    secret_hash = hash_secret(secret)
    trigger = AlertTrigger.objects.filter(token_hash=secret_hash).first()
    if trigger is None:
        return _refuse(404, "unknown_trigger", "No alert trigger has this secret.", secret_hash=secret_hash)
    if trigger.revoked_at is not None:
        return _refuse(403, "trigger_revoked", "This alert trigger was revoked.", trigger=trigger)
    with transaction.atomic():
        trigger, allowed = _count_call(trigger.pk, now)
    if not allowed:
        limit = settings.ALERT_HOOK_CALLS_PER_MINUTE
        return _refuse(429, "rate_limited", f"More than {limit} calls in a minute: refused.", trigger=trigger)
    try:
        group = parse_payload(read_body(), now=now)
    except RequestDataTooBig:
        return _refuse(413, "too_big", "The payload is larger than the panel accepts.", trigger=trigger)
    except BadPayload as exc:
        return _refuse(400, "bad_payload", str(exc), trigger=trigger)
    return _act(trigger, group, now=now)


def _act(trigger: AlertTrigger, group: FiringGroup, *, now: datetime) -> HookAnswer:
    actor = actor_of(trigger)
    outcome = {"status": group.status, "alerts": len(group.alerts), "group_key": group.group_key[:200]}
    incident, kill_switch = None, False
    if group.status == "firing" and group.alerts:
        what = f"Alertmanager ({trigger.name}): {group.names()}"
        summary = group.summary()
        if group.kill_switch_asked and trigger.may_pull_kill_switch:
            kill_switch = kill_switch_services.pull_kill_switch(actor=actor, reason=f"{what}. {summary}".strip())
            if kill_switch:  # the incident the kill switch opened for its timeline event
                event = RolloutEvent.objects.filter(kind=EventKind.KILL_SWITCH).latest("pk")
                incident = incident_selectors.incident_for_trigger(incident_trigger_key(event.pk))
        if incident is None:
            key = hashlib.sha256(f"{group.group_key}|{group.started_at.isoformat()}".encode()).hexdigest()[:40]
            incident, _ = incidents.open_incident_for_event(
                trigger_key=f"alertmanager:{trigger.pk}:{key}",
                source=IncidentSource.ALERTMANAGER,
                issue=f"{what}.\n{summary}".strip(),
                started_at=group.started_at,
                opened_by=actor,
                severity=group.severity,
                now=now,
            )
        outcome["kill_switch_asked"] = group.kill_switch_asked
        if group.kill_switch_asked and not trigger.may_pull_kill_switch:
            outcome["kill_switch_refused"] = "This trigger may not pull the kill switch."
    outcome.update(incident=incident.pk if incident else None, kill_switch_pulled=kill_switch)
    record_event(actor=actor, action="alert_hook.accepted", target=trigger, after=outcome,
                 reason=f"Alertmanager webhook: {group.status}, {len(group.alerts)} firing alert(s).")  # fmt: skip
    return HookAnswer(200, {"accepted": True, **outcome})


# --- The view (thin) ------------------------------------------------------------------------------------------
@csrf_exempt
@login_not_required
def alertmanager_hook(request: HttpRequest, secret: str) -> JsonResponse:
    """`POST /hooks/alertmanager/<secret>` (module docstring)."""
    if request.method != "POST":
        return JsonResponse({"error": "method_not_allowed", "message": "Alertmanager posts: use POST."},
                            status=405, headers={"Allow": "POST"})  # fmt: skip
    answer = receive(secret=secret, read_body=lambda: request.body)
    response = JsonResponse(answer.body, status=answer.status)
    response["Cache-Control"] = "no-store"
    return response
