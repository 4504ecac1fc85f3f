"""Read side of incidents (DESIGN.md section 4c): the impact measured from the database for an incident's
window, the actions the rollout timeline recorded in it, the contact chain, and the lists the pages show.
Every function returns a bounded amount of data in a fixed number of queries."""

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Case, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from adminpanel.models import PanelEvent, User
from adminpanel.panel_schema import product_has_server_id
from adminpanel.roles import PRODUCT, SUPPORT
from adminpanel.sql_probe import time_limited_cursor
from monitoring.health.health_checks import CHECKS
from monitoring.models import Contact, ContactTier, Incident, IncidentNotification, IncidentStatus, IncidentUpdate
from monitoring.signals import ActionTaken, incident_actions_from_provider

# Bars affected = bars in simplified mode (the feature's reach) and bars that logged errors in the window;
# sales affected = the window's sales without server_id in simplified-mode bars, beside its error-level logs.
# Each count is an index range scan of its table's created_at (bars: 10k rows, read twice); no CTE, so the planner
# joins the sales of the window to the bars instead of probing every simplified bar's sales.
SIMPLIFIED_BARS = "SELECT id FROM bars WHERE settings->>'operatingMode' = 'simplified'"
ERROR_BARS = (
    "SELECT bar_id FROM audit_logs WHERE level = 'error' AND created_at >= %(start)s AND created_at <= %(end)s "
    "AND bar_id IS NOT NULL"
)
IMPACT_SQL = f"""
SELECT (SELECT count(*) FROM ({SIMPLIFIED_BARS}) switched),
       (SELECT count(DISTINCT bar_id) FROM ({ERROR_BARS}) erroring),
       (SELECT count(*) FROM ({SIMPLIFIED_BARS} UNION {ERROR_BARS}) affected),
       {{sales}},
       (SELECT count(*) FROM audit_logs WHERE level = 'error' AND created_at >= %(start)s AND created_at <= %(end)s)
"""  # noqa: S608 (constants only)
SALES_WITHOUT_SERVER_ID = """(SELECT count(*) FROM sales s JOIN bars b ON b.id = s.bar_id
        WHERE s.created_at >= %(start)s AND s.created_at <= %(end)s AND s.server_id IS NULL
          AND b.settings->>'operatingMode' = 'simplified')"""


@dataclass(frozen=True)
class Impact:
    """What an incident touched between `start` and `end`, as counts."""

    start: datetime
    end: datetime
    switched_bars: int
    bars_with_errors: int
    bars_affected: int
    sales_without_server_id: int
    error_logs: int

    @property
    def sales_affected(self) -> int:
        return self.sales_without_server_id

    def as_json(self) -> dict:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Impact | None":
        try:
            return cls(
                **{**data, "start": parse_datetime(data["start"]), "end": parse_datetime(data["end"])}  # type: ignore[arg-type]
            )
        except (KeyError, TypeError):
            return None


def measure_impact(*, start: datetime, end: datetime) -> Impact:
    """Count the bars and sales affected between `start` and `end` (one query under a statement timeout)."""
    # Before Phase 2's step 1 BarTender has no server_id: no sale can be missing one.
    sales = SALES_WITHOUT_SERVER_ID if product_has_server_id() else "0"
    with time_limited_cursor(settings.LOGS_SUMMARY_STATEMENT_TIMEOUT_MS) as cursor:
        cursor.execute(IMPACT_SQL.format(sales=sales), {"start": start, "end": end})
        switched, erroring, affected, sales, errors = cursor.fetchone()
    return Impact(start, end, switched, erroring, affected, sales, errors)


def incident_impact(incident: Incident, *, now: datetime | None = None) -> Impact:
    """The impact as last measured: by the incident clock every minute until resolved, at each update, and frozen
    at resolution (pages and notifications read it, so watching an incident costs no scan of the sales). Measured
    now only when it never was."""
    stored = Impact.from_json(incident.impact) if incident.impact else None
    if stored is not None:
        return stored
    return measure_impact(start=incident.started_at, end=incident.resolved_at or now or timezone.now())


def impact_is_stale(incident: Incident, *, now: datetime | None = None) -> bool:
    """An open incident whose impact the clock has not refreshed for three of its ticks: worker or beat down."""
    if incident.is_resolved or incident.impact_measured_at is None:
        return False
    stale_after = timedelta(seconds=3 * settings.INCIDENT_CLOCK_INTERVAL_SECONDS)
    return incident.impact_measured_at < (now or timezone.now()) - stale_after


CHECK_LABELS = {check.name: check.label for check in CHECKS}


def check_label(name: str) -> str:
    """A health check's name in words (its key when it is not one of the suite's)."""
    return CHECK_LABELS.get(name, name)


def actions_taken(incident: Incident, *, now: datetime | None = None) -> list[ActionTaken]:
    """What the rollout timeline recorded during the incident (from its start to its resolution or now)."""
    return incident_actions_from_provider(start=incident.started_at, end=incident.resolved_at or now or timezone.now())


# --- Lists and pages --------------------------------------------------------------------------------------

SEVERITY_RANK = Case(
    When(severity="critical", then=Value(0)),
    When(severity="high", then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


def open_incidents(limit: int = 20) -> list[Incident]:
    """Unresolved incidents, most severe first, then newest."""
    return list(
        Incident.objects.exclude(status=IncidentStatus.RESOLVED)
        .select_related("owner", "tier")
        .annotate(rank=SEVERITY_RANK)
        .order_by("rank", "-opened_at", "-id")[:limit]
    )


def incident_queryset(*, state: str = "") -> QuerySet:
    """Incidents for the list (``state``: "open", "resolved" or every one)."""
    qs = Incident.objects.select_related("owner", "tier")
    if state == "open":
        qs = qs.exclude(status=IncidentStatus.RESOLVED)
    elif state == "resolved":
        qs = qs.filter(status=IncidentStatus.RESOLVED)
    return qs


def incident_detail(pk: int) -> Incident | None:
    """One incident with its people, tier and alert (None when there is no such incident)."""
    return (
        Incident.objects.select_related("owner", "opened_by", "acknowledged_by", "tier", "alert").filter(pk=pk).first()
    )


def incident_updates(incident: Incident, limit: int = 200) -> list[IncidentUpdate]:
    """An incident's updates, newest first, with their authors."""
    return list(incident.updates.select_related("author").order_by("-created_at", "-id")[:limit])


def incident_notifications(incident: Incident, limit: int = 200) -> list[IncidentNotification]:
    """Everything told about an incident, newest first, with the tier and the actor."""
    return list(incident.notifications.select_related("tier", "actor").order_by("-created_at", "-id")[:limit])


HISTORY_WORDS = {
    "incident.open": "Opened",
    "incident.acknowledge": "Acknowledged",
    "incident.update": "Update posted",
    "incident.resolve": "Resolved",
    "incident.remind": "Owner reminded: update overdue",
    "incident.escalate": "Escalated to the next tier",
    "incident.communicate": "Communication template sent",
}
FIELD_WORDS = {"severity": "severity", "status": "status", "owner": "owner", "tier": "tier told"}


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    who: str
    what: str
    detail: str
    reason: str


def _changes(before: dict, after: dict) -> str:
    parts = []
    for key, words in FIELD_WORDS.items():
        old, new = before.get(key), after.get(key)
        if key in after and old != new:
            parts.append(f"{words}: {old or 'none'} → {new or 'none'}" if before else f"{words}: {new or 'none'}")
    if "next_update_at" in after and before.get("next_update_at") != after["next_update_at"]:
        due = parse_datetime(after["next_update_at"]) if after["next_update_at"] else None
        parts.append(f"next update {timezone.localtime(due):%H:%M %Z}" if due else "next update upon resolution")
    if after.get("to"):
        parts.append(f"to {after['to']}")
    return "; ".join(parts)


def incident_history(incident: Incident, limit: int = 200) -> list[HistoryLine]:
    """The incident's own audit trail (panel_events), newest first, in words."""
    events = PanelEvent.objects.filter(target_type=Incident._meta.label_lower, target_id=str(incident.pk)).order_by(
        "-created_at", "-id"
    )[:limit]
    return [
        HistoryLine(
            at=event.created_at,
            who=event.actor_name,
            what=HISTORY_WORDS.get(event.action, event.action),
            detail=_changes(event.before or {}, event.after or {}),
            reason=event.reason,
        )
        for event in events
    ]


def contact_chain() -> list[ContactTier]:
    """The tiers in order, each with its active contacts in order (two queries)."""
    active = Contact.objects.filter(is_active=True).order_by("position", "name")
    return list(ContactTier.objects.prefetch_related(Prefetch("contacts", queryset=active, to_attr="active_contacts")))


def tier_contacts(tier: ContactTier | None) -> list[Contact]:
    """A tier's active contacts in their order (none without a tier)."""
    if tier is None:
        return []
    return list(tier.contacts.filter(is_active=True).order_by("position", "name"))


def incident_handlers(limit: int = 200) -> list[User]:
    """The people who may own an incident (support, product owners, superusers), for the owner picker."""
    return list(
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[SUPPORT, PRODUCT]))
        .distinct()
        .order_by("username")[:limit]
    )


def incident_handler_named(username: str) -> User | None:
    """The active support, product or superuser account called `username`, or None."""
    return (
        User.objects.filter(is_active=True, username=username)
        .filter(Q(is_superuser=True) | Q(groups__name__in=[SUPPORT, PRODUCT]))
        .distinct()
        .first()
    )


# --- For the apps above (DESIGN §2) ------------------------------------------------------------------------------


def incident_for_trigger(trigger_key: str) -> Incident | None:
    """The incident an event opened (its trigger key), if any."""
    return Incident.objects.filter(trigger_key=trigger_key).first()


def incidents_for_triggers(trigger_keys) -> dict[str, int]:
    """trigger key → incident id, for the events that opened one; one query."""
    return dict(Incident.objects.filter(trigger_key__in=list(trigger_keys)).values_list("trigger_key", "pk"))


def latest_open_incident() -> Incident | None:
    """The unresolved incident opened last (the one a rollback reports to)."""
    return Incident.objects.filter(resolved_at__isnull=True).order_by("-opened_at").first()
