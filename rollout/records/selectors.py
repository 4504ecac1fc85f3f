"""What a deployment record shows: its timeline, its first 24 hours' monitoring, and the frozen snapshot."""

from django.conf import settings
from django.utils import timezone

from monitoring.enums import CheckStatus
from monitoring.health import selectors as monitoring_selectors
from rollout.events.selectors import event_summary
from rollout.models import DeploymentRecord, RolloutEvent
from rollout.records import facts


def _worst(statuses) -> str:
    statuses = list(statuses)
    return CheckStatus.worst(statuses, default="")


# --- Deployment records ---------------------------------------------------------------------------
def record_window(record: DeploymentRecord):
    """The record's window: its start, and its end (or now), never before the start."""
    end = record.ended_at or timezone.now()
    return record.started_at, max(end, record.started_at)


def record_timeline(record: DeploymentRecord) -> list[dict]:
    """The timeline events inside the record's window, oldest first, in words (at most 500)."""
    start, end = record_window(record)
    events = RolloutEvent.objects.filter(created_at__gte=start, created_at__lte=end).order_by("created_at", "id")
    return [
        {
            "at": timezone.localtime(event.created_at).isoformat(timespec="seconds"),
            "kind": event.get_kind_display(),
            "actor": event.actor_name,
            "summary": event_summary(event),
            "reason": event.reason,
            "override": event.is_override,
        }
        for event in events[:500]
    ]


def record_monitoring(record: DeploymentRecord) -> dict:
    """The runbook's "Monitoring Results (First 24 hours)": the four figures computed over the window that starts
    with the code deployment (facts.monitoring_window), and per check what the health runs in it saw."""
    start, end = facts.monitoring_window(record)
    now = timezone.now()
    run_count = monitoring_selectors.runs_finished_between(start, end)
    names = settings.ROLLOUT_RECORD_CHECKS
    per_check: dict[str, dict] = {}
    for name, status, value in monitoring_selectors.results_between(start, end):
        _accumulate(per_check, name, status, value)
    figures = facts.window_figures(start=start, end=min(end, now), latency_check=names["latency_ms"])
    return {
        "window_start": timezone.localtime(start).isoformat(timespec="minutes"),
        "window_end": timezone.localtime(end).isoformat(timespec="minutes"),
        "complete": now >= end,
        "runs": run_count,
        "worst_run_status": _worst(monitoring_selectors.run_statuses_between(start, end, limit=None)),
        **figures,
        "checks": sorted(per_check.values(), key=lambda entry: entry["check"]),
    }


def _accumulate(per_check: dict, name: str, status: str, value) -> None:
    entry = per_check.setdefault(name, {"check": name, "runs": 0, "min": None, "max": None, "last": None})
    entry["runs"] += 1
    entry["worst"] = _worst([entry.get("worst", CheckStatus.OK), status])
    if value is not None:
        entry["min"] = value if entry["min"] is None else min(entry["min"], value)
        entry["max"] = value if entry["max"] is None else max(entry["max"], value)
        entry["last"] = value


def record_snapshot(record: DeploymentRecord) -> dict:
    """Everything the record fills itself with, as it stands now (signing freezes it)."""
    from rollout.runbook import cockpit  # the cockpit reads this module: its time boxes are asked for here only

    return {
        "timeline": record_timeline(record),
        "milestones": facts.record_milestones(record),
        "verification": facts.record_verification(record),
        "monitoring": record_monitoring(record),
        "checklist": facts.record_checklist(record),
        "timeboxes": cockpit.timeboxes(user=record.deployer, now=record.ended_at),
        "decisions": facts.record_decisions(record),
    }


def record_contents(record: DeploymentRecord) -> dict:
    """Verification, timeline and monitoring: frozen once both have signed, live before."""
    if record.snapshot:
        return record.snapshot
    return record_snapshot(record)
