"""Timeline reads: the history and its CSV, each event in words, and the actions an incident shows."""

import json

from django.urls import reverse
from django.utils.http import urlencode

from monitoring.incidents import selectors as incident_selectors
from monitoring.signals import ActionTaken
from rollout.models import EventKind, FlagState, RolloutEvent, RunbookStep


# --- Timeline -------------------------------------------------------------------------------------
def timeline():
    """Every timeline event, newest first, with its flag and alert."""
    return RolloutEvent.objects.select_related("flag", "alert").order_by("-id")


CSV_COLUMNS = [
    "id", "created_at", "kind", "actor", "flag", "stage_before", "stage_after", "override", "reason", "alert",
    "before", "after",
]  # fmt: skip


def timeline_csv_rows(events):
    """One list of cells per timeline event (the header is CSV_COLUMNS)."""
    for event in events.iterator(chunk_size=1000):
        yield (
            event.pk,
            event.created_at.isoformat(),
            event.kind,
            event.actor_name,
            event.flag.key if event.flag_id and event.flag else "",
            event.stage_before,
            event.stage_after,
            "yes" if event.is_override else "",
            event.reason,
            f"#{event.alert_id}" if event.alert_id else "",
            _json_cell(event.before),
            _json_cell(event.after),
        )


def _json_cell(value) -> str:
    """Structured CSV cells are JSON (never a Python repr)."""
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


# --- Incidents (monitoring asks through its provider; DESIGN.md 4c) --------------------------------
ROLLBACK_KINDS = (EventKind.KILL_SWITCH, EventKind.AUTO_ROLLBACK, EventKind.STAGE_ROLLBACK)
ACTION_CATEGORY = {
    EventKind.KILL_SWITCH: "Rollback",
    EventKind.AUTO_ROLLBACK: "Rollback",
    EventKind.STAGE_ROLLBACK: "Rollback",
    EventKind.STAGE_PAUSE: "Pause",
}


def incident_trigger_key(event_id: int) -> str:
    """The key of the incident a timeline event opened (monitoring keeps one incident per key)."""
    return f"rollout-event:{event_id}"


def incident_actions(*, start, end, limit: int = 100) -> list[ActionTaken]:
    """The timeline between `start` and `end` as the actions taken during an incident, oldest first (deployment
    records left out: they are paperwork, not actions). Registered as monitoring's provider in RolloutConfig."""
    events = (
        RolloutEvent.objects.select_related("flag")
        .filter(created_at__gte=start, created_at__lte=end)
        .exclude(kind=EventKind.RECORD)
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        ActionTaken(
            at=event.created_at,
            actor=event.actor_name,
            what=f"{event.get_kind_display()}: {event_summary(event)}",
            why=event.reason,
            category=ACTION_CATEGORY.get(event.kind, "Remediation"),
        )
        for event in reversed(list(events))
    ]


def root_cause_links(events) -> dict[int, str]:
    """For each rollback event of `events`, its root-cause page: its incident's when it opened one, else the hour
    before the event. One query, whatever the number of events."""
    rollbacks = [event for event in events if event.kind in ROLLBACK_KINDS]
    by_key = incident_selectors.incidents_for_triggers(incident_trigger_key(e.pk) for e in rollbacks)
    links = {}
    for event in rollbacks:
        incident_id = by_key.get(incident_trigger_key(event.pk))
        if incident_id:
            links[event.pk] = reverse("monitoring:incident_root_cause", args=[incident_id])
        else:
            links[event.pk] = f"{reverse('monitoring:root_cause')}?{urlencode({'until': event.created_at.isoformat()})}"
    return links


def _state_words(state) -> str:
    return FlagState(state).label.lower() if state in FlagState.values else str(state)


def event_summary(event: RolloutEvent) -> str:
    """One line in words of what an event changed (before → after), for the history and the latest events."""
    after = event.after or {}
    if event.kind == EventKind.AUTOPILOT_ON:
        size = after.get("batch_size")
        return "autopilot on, " + (f"in batches of {size} bars" if size else "a whole stage per step")
    if event.kind == EventKind.AUTOPILOT_OFF:
        return "autopilot off: every step is taken by a person again"
    if event.kind == EventKind.STAGE_ADVANCE and event.stage_before == event.stage_after:
        return f"next batch of stage {event.stage_after}, {after.get('bars_changed', 0)} bars switched"
    if event.kind == EventKind.CODE_ROLLBACK:
        return f"code rolled back to build {after.get('build')} (Option B): {after.get('status', '')}"
    if event.kind == EventKind.DATABASE_RESTORE:
        return (f"database restored from the Phase 1 backup (Option C): {after.get('status', '')}, "
                f"{after.get('differing', 0)} of {after.get('tables', 0)} tables differ")  # fmt: skip
    if event.kind == EventKind.GATE_OVERRIDE and "phase2_step" in after:
        return f"Phase 1's gate overridden to apply Phase 2 step {after['phase2_step']}"
    if event.kind == EventKind.RUNBOOK:
        step = RunbookStep(after["step"]).label if after.get("step") in RunbookStep.values else after.get("step")
        return f"{step}: {after.get('summary') or after.get('status', '')}"
    if event.stage_before != event.stage_after and event.stage_after:
        text = f"stage {event.stage_before} → {event.stage_after}"
        if "bars_changed" in after:
            text += f", {after['bars_changed']} bars switched"
        if "bars_restored" in after:
            text += f", {after['bars_restored']} bars restored"
        return text
    if event.kind == EventKind.KILL_SWITCH_RELEASE:
        return "kill switch released: both flags on again for their allow-listed bars; the rollout stays paused"
    if event.flag_id and "state" in after:
        key = event.flag.key if event.flag else event.flag_id
        return f"{key}: {_state_words((event.before or {}).get('state'))} → {_state_words(after['state'])}"
    if event.flag_id and "listed" in after:
        verb = "added to" if after["listed"] else "removed from"
        return f"{after.get('bar_name')} {verb} the allow-list of {event.flag.key if event.flag else event.flag_id}"
    if "flags" in after:
        text = "both flags off for every bar (kill switch); allow-lists and data kept, rollout paused"
        return text + (f", caused by alert #{event.alert_id}" if event.alert_id else "")
    if "paused" in after:
        return "rollout paused: it holds its stage" if after["paused"] else "rollout resumed"
    if "overridden" in after:
        return "gates overridden: " + ", ".join(after["overridden"])
    if "signed_as" in after:
        return f"signed as {after['signed_as']}"
    return "record saved"
