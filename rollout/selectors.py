"""Read side of the rollout: flag state per bar, the page's figures, the timeline, deployment record contents."""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from guardian.core import ObjectPermissionChecker

from adminpanel.permissions import FLIP_FLAG
from adminpanel.request_memo import memoized
from monitoring.enums import CheckStatus
from monitoring.health import selectors as monitoring_selectors
from monitoring.incidents import selectors as incident_selectors
from monitoring.signals import ActionTaken
from rollout import records
from rollout.cohort_compare import CohortComparison, current_comparison
from rollout.cohorts import bucket_sql, cohort_sql
from rollout.flag_cache import flag_cache
from rollout.gates import evaluate_gates
from rollout.models import (
    DEFAULT_FLAGS,
    STAGE_ORDER,
    DeploymentRecord,
    EventKind,
    FeatureFlag,
    FeatureFlagGroupObjectPermission,
    FeatureFlagUserObjectPermission,
    FlagState,
    RolloutEvent,
    RolloutState,
    RolloutStep,
    RunbookStep,
    Stage,
    next_stage,
)


# --- Flags per bar (the app's question, and the flag API's) -----------------------------------------
def is_enabled(flag: FeatureFlag | str, bar) -> bool:
    """Whether the flag is on for the bar: not killed, and on globally or the bar is on its allow-list."""
    key = flag.key if isinstance(flag, FeatureFlag) else flag
    bar_id = getattr(bar, "pk", bar)
    reading = flags_for_bar(bar_id)
    return bool(reading and reading.flags.get(key, False))


@lru_cache(maxsize=64)
def _flags_json(flags: tuple[tuple[str, bool], ...]) -> str:
    return json.dumps(dict(flags))


@lru_cache(maxsize=64)
def _mode_json(mode: str | None) -> str:
    return json.dumps(mode)


def _plain(text: str) -> str:
    """A JSON string of a bar id or an ETag (hex digits and hyphens: nothing to escape)."""
    return f'"{text}"' if text.replace("-", "").isalnum() and text.isascii() else json.dumps(text)


@dataclass(frozen=True)
class FlagReading:
    bar_id: str
    operating_mode: str | None
    flags: dict[str, bool]
    etag: str
    # The JSON answer, serialised once when the reading is made: a cached reading is served as these bytes.
    body: bytes = field(default=b"", compare=False, repr=False)
    # Why each flag has its value, as OpenFeature names it (rollout/ofrep.py serves it): DISABLED (kill switch),
    # STATIC (on for every bar), TARGETING_MATCH (on: the bar is on the allow-list), DEFAULT (off otherwise).
    reasons: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    # Other serialisations of the same reading, made once per reading (the OFREP bulk body): kept with it in the
    # flag cache and dropped with it.
    derived: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self):
        if not self.body:  # what json.dumps(self.as_json()) gives, from parts a snapshot of 10k bars shares
            body = (
                f'{{"bar": {_plain(self.bar_id)}, "operatingMode": {_mode_json(self.operating_mode)}, '
                f'"flags": {_flags_json(tuple(self.flags.items()))}, "version": {_plain(self.etag)}}}'
            )
            object.__setattr__(self, "body", body.encode())

    def as_json(self) -> dict:
        return {"bar": self.bar_id, "operatingMode": self.operating_mode, "flags": self.flags, "version": self.etag}


FLAGS_FOR_BAR_SQL = """
SELECT b.settings->>'operatingMode', f.key, f.version,
       (NOT f.kill_switch_engaged AND (f.enabled_globally OR fb.id IS NOT NULL)),
       f.kill_switch_engaged, f.enabled_globally
FROM bars b
LEFT JOIN feature_flags f ON true
LEFT JOIN feature_flag_bars fb ON fb.featureflag_id = f.id AND fb.bar_id = b.id
WHERE b.id = %s
ORDER BY f.key
"""


def _polled_query(sql: str, params: list) -> list[tuple]:
    """Run the query every client poll runs, as cheaply as PostgreSQL allows.

    Clients poll the flag API constantly, and with Django's defaults a poll costs a health-check round trip plus a
    query planned afresh each time (planning costs more than running it). Here the query is a server-side prepared
    statement (planned once per persistent connection) and the health check is replaced by its purpose: a
    connection that a restarted server broke is closed, reopened and the query retried once. Through a pooler in
    transaction mode (DATABASE_POOLED) nothing is prepared: the next transaction may land on another server.
    """
    prepare = not settings.DATABASE_POOLED
    for attempt in (1, 2):
        try:
            connection.ensure_connection()
            raw = connection.connection
            if prepare and raw.prepare_threshold is None:
                # Django turns psycopg's preparation off; only server-binding cursors like this one prepare.
                raw.prepare_threshold = 0
            with psycopg.Cursor(raw) as cursor:
                cursor.execute(sql, params, prepare=prepare)
                return cursor.fetchall()
        except psycopg.OperationalError:
            connection.close()
            if attempt == 2:
                raise
    return []


def flags_for_bar(bar_id: uuid.UUID | str) -> FlagReading | None:
    """Both flags and the operating mode of one bar, with an ETag; None for an unknown bar.

    Served from the process's flag cache while its LISTEN connection is up (rollout/flag_cache.py: dropped on
    every committed write, never on a timer), otherwise read with one query.
    """
    key = str(bar_id)
    cached = flag_cache.get(key)
    if cached is not None:
        return cached
    generation = flag_cache.generation()
    reading = read_flags_for_bar(key)
    if reading is not None:
        flag_cache.put(key, reading, generation=generation)
    return reading


def read_flags_for_bar(bar_id: str) -> FlagReading | None:
    """The database's answer for one bar (one prepared query); the ETag hashes the flags' versions and states."""
    rows = _polled_query(FLAGS_FOR_BAR_SQL, [bar_id])
    if not rows:
        return None
    return _reading(bar_id, rows)


REASON_DISABLED, REASON_STATIC, REASON_TARGETING_MATCH, REASON_DEFAULT = (
    "DISABLED",
    "STATIC",
    "TARGETING_MATCH",
    "DEFAULT",
)


def _reason(on, killed, globally) -> str:
    if killed:
        return REASON_DISABLED
    if globally:
        return REASON_STATIC
    return REASON_TARGETING_MATCH if on else REASON_DEFAULT


def _reading(bar_id: str, rows: list[tuple]) -> FlagReading:
    """One bar's reading from its rows (operating mode, flag key, flag version, flag on, kill switch, on for every
    bar), ordered by flag key."""
    mode = rows[0][0]
    flags = {row[1]: bool(row[3]) for row in rows if row[1] is not None}
    reasons = {row[1]: _reason(*row[3:6]) for row in rows if row[1] is not None}
    for key in DEFAULT_FLAGS:
        flags.setdefault(key, False)
        reasons.setdefault(key, REASON_DEFAULT)
    # The bar's own id is part of it: two bars in the same state must not share an ETag (a client that polls
    # several bars, or a token moved between bars, would get another bar's 304).
    fingerprint = f"{bar_id}|{mode}|" + "|".join(f"{row[1]}:{row[2]}:{int(bool(row[3]))}" for row in rows)
    etag = hashlib.md5(fingerprint.encode(), usedforsecurity=False).hexdigest()[:20]
    return FlagReading(bar_id, mode, flags, etag, reasons=reasons)


# --- The bulk snapshot (GET /api/v1/flags/snapshot) ------------------------------------------------------
ALL_BARS = "all"

SNAPSHOT_SQL = """
SELECT b.id::text, b.settings->>'operatingMode', f.key, f.version,
       (NOT f.kill_switch_engaged AND (f.enabled_globally OR fb.id IS NOT NULL)),
       f.kill_switch_engaged, f.enabled_globally
FROM bars b
LEFT JOIN feature_flags f ON true
LEFT JOIN feature_flag_bars fb ON fb.featureflag_id = f.id AND fb.bar_id = b.id
ORDER BY b.id, f.key
"""


@dataclass(frozen=True)
class FlagSnapshot:
    """Every readable bar's reading as one JSON body, with one ETag for the whole of it."""

    etag: str
    body: bytes
    bars: int


def read_all_readings() -> dict[str, FlagReading]:
    """Every bar's reading, by bar id in id order: one query (the same answer as `read_flags_for_bar` per bar)."""
    with connection.cursor() as cursor:
        cursor.execute(SNAPSHOT_SQL)
        rows = cursor.fetchall()
    readings: dict[str, FlagReading] = {}
    start = 0
    for index in range(1, len(rows) + 1):
        if index == len(rows) or rows[index][0] != rows[start][0]:
            bar_id = rows[start][0]
            readings[bar_id] = _reading(bar_id, [row[1:] for row in rows[start:index]])
            start = index
    return readings


def _all_readings() -> dict[str, FlagReading]:
    table = flag_cache.get_snapshot(ALL_BARS)
    if table is None:
        generation = flag_cache.generation()
        table = read_all_readings()
        flag_cache.put_snapshot(ALL_BARS, table, generation=generation)
    return table


def flag_snapshot(scope: frozenset[str] | None) -> FlagSnapshot:
    """The snapshot of every bar (`scope` None) or of the bars in `scope` that exist, in bar id order.

    Body: ``{"version": <etag>, "bars": [<the /api/v1/flags answer of each bar>, ...]}``. The ETag hashes each
    bar's own version (bar id, operating mode, each flag's version and state), so it changes whenever any flag,
    allow-list, kill switch or operating mode changes the answer of a bar the token may read, or a bar comes or
    goes. Kept per process and per scope until the next change notification (rollout/flag_cache.py).
    """
    key = ("snapshot", scope)
    generation = flag_cache.generation()
    cached = flag_cache.get_snapshot(key)
    if cached is not None:
        return cached
    table = _all_readings()
    readings = table.values() if scope is None else [table[pk] for pk in sorted(scope) if pk in table]
    digest = hashlib.md5(usedforsecurity=False)
    bodies = []
    for reading in readings:
        digest.update(reading.etag.encode())
        bodies.append(reading.body)
    etag = digest.hexdigest()[:20]
    body = b'{"version": "' + etag.encode() + b'", "bars": [' + b", ".join(bodies) + b"]}"
    snapshot = FlagSnapshot(etag, body, len(bodies))
    flag_cache.put_snapshot(key, snapshot, generation=generation)
    return snapshot


# --- The rollout page -----------------------------------------------------------------------------
def remaining_in_stage(stage: str) -> int:
    """Bars of the stage's cohort still in operatingMode NULL (what the stage's next batch would switch)."""
    if stage == Stage.OFF:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM bars WHERE {cohort_sql(stage)} AND bars.settings->>'operatingMode' IS NULL"  # noqa: S608
        )
        return cursor.fetchone()[0]


ALLOW_LIST_SHOWN = 50


@dataclass(frozen=True)
class FlagRow:
    flag: FeatureFlag
    allow_listed: int
    flippers: list[str]
    can_flip: bool
    listed_bars: list = ()

    @property
    def plain(self) -> tuple[str, str]:
        return self.flag.plain_state(self.allow_listed)

    @property
    def more_listed(self) -> int:
        return max(0, self.allow_listed - len(self.listed_bars))


def flag_holders(flags, codename: str) -> dict[int, list[str]]:
    """Who holds `codename` on each flag, directly or through a group (superusers aside, as guardian's
    ``get_users_with_perms``): usernames by flag id, sorted, in two queries whatever the number of flags."""
    ids = [flag.pk for flag in flags]
    holders: dict[int, set[str]] = {pk: set() for pk in ids}
    direct = FeatureFlagUserObjectPermission.objects.filter(content_object_id__in=ids, permission__codename=codename)
    for pk, username in direct.values_list("content_object_id", "user__username"):
        holders[pk].add(username)
    grouped = FeatureFlagGroupObjectPermission.objects.filter(
        content_object_id__in=ids, permission__codename=codename, group__user__isnull=False
    )
    for pk, username in grouped.values_list("content_object_id", "group__user__username"):
        holders[pk].add(username)
    return {pk: sorted(names) for pk, names in holders.items()}


def flag_rows(user) -> list[FlagRow]:
    """Each flag with its plain state, who may flip it and the first allow-listed bars by name."""
    flags = list(FeatureFlag.objects.annotate(allow_listed=Count("allowed_bars")).order_by("key"))
    holders = flag_holders(flags, FLIP_FLAG.split(".")[-1])
    checker = ObjectPermissionChecker(user)
    if user.is_active and flags:
        checker.prefetch_perms(flags)
    return [
        FlagRow(
            flag=flag,
            allow_listed=flag.allow_listed,
            flippers=holders[flag.pk],
            can_flip=user.is_active and (user.is_superuser or checker.has_perm(FLIP_FLAG.split(".")[-1], flag)),
            listed_bars=list(flag.allowed_bars.order_by("name", "pk")[:ALLOW_LIST_SHOWN]) if flag.allow_listed else [],
        )
        for flag in flags
    ]


@dataclass(frozen=True)
class KillSwitchStatus:
    """The kill switch as a state: engaged since when, by whom, why (the event that pulled it)."""

    engaged: bool
    since: object = None
    by: str = ""
    reason: str = ""
    automatic: bool = False
    alert_id: int | None = None


def kill_switch_identity() -> str:
    """Which kill switch is engaged: the timeline event that pulled it and the engaged flags' versions (a switch
    released and pulled again is another one), or "" when none is. A release confirmation is bound to it."""
    engaged = list(FeatureFlag.objects.filter(kill_switch_engaged=True).order_by("pk").values_list("key", "version"))
    if not engaged:
        return ""
    event = (
        RolloutEvent.objects.filter(kind__in=[EventKind.KILL_SWITCH, EventKind.AUTO_ROLLBACK])
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    )
    return f"event {event}; " + ", ".join(f"{key} v{version}" for key, version in engaged)


def kill_switch_engaged() -> bool:
    """Whether any flag's kill switch is engaged; read once per page (adminpanel.request_memo)."""
    return memoized("kill_switch_engaged", lambda: FeatureFlag.objects.filter(kill_switch_engaged=True).exists())


def kill_switch_status() -> KillSwitchStatus:
    """The kill switch as a state: engaged since when, by whom and why."""
    if not kill_switch_engaged():
        return KillSwitchStatus(engaged=False)
    event = (
        RolloutEvent.objects.filter(kind__in=[EventKind.KILL_SWITCH, EventKind.AUTO_ROLLBACK]).order_by("-id").first()
    )
    if event is None:  # engaged by hand in the database or the Django admin
        flag = FeatureFlag.objects.filter(kill_switch_engaged=True).order_by("-updated_at").first()
        return KillSwitchStatus(engaged=True, since=flag.updated_at, by="someone outside the panel's controls")
    return KillSwitchStatus(
        engaged=True,
        since=event.created_at,
        by=event.actor_name,
        reason=event.reason,
        automatic=event.kind == EventKind.AUTO_ROLLBACK,
        alert_id=event.alert_id,
    )


@dataclass(frozen=True)
class StageRow:
    stage: str
    label: str
    cohort: int
    simplified: int
    switched_by_rollout: int
    is_current: bool
    is_done: bool
    health: str
    health_runs: int


COHORT_FIGURES_SQL = """
SELECT count(*) FILTER (WHERE is_internal),
       count(*) FILTER (WHERE is_internal AND mode = 'simplified'),
       count(*) FILTER (WHERE bucket < %(half)s),
       count(*) FILTER (WHERE bucket < %(half)s AND mode = 'simplified'),
       count(*),
       count(*) FILTER (WHERE mode = 'simplified'),
       count(*) FILTER (WHERE mode = 'full'),
       count(*) FILTER (WHERE mode IS NULL)
FROM (SELECT is_internal, settings->>'operatingMode' AS mode, {bucket} AS bucket FROM bars) b
"""


def cohort_figures() -> dict:
    """Bars per cohort and how many of them are in simplified mode, in one scan of `bars`."""
    with connection.cursor() as cursor:
        cursor.execute(COHORT_FIGURES_SQL.format(bucket=bucket_sql()), {"half": settings.ROLLOUT_HALF_PERCENT})
        row = cursor.fetchone()
    return {
        Stage.INTERNAL: (row[0], row[1]),
        Stage.HALF: (row[2], row[3]),
        Stage.ALL: (row[4], row[5]),
        "full": row[6],
        "unset": row[7],
    }


def _worst(statuses) -> str:
    statuses = list(statuses)
    return CheckStatus.worst(statuses, default="")


def stage_rows(state: RolloutState, figures: dict | None = None) -> list[StageRow]:
    figures = figures or cohort_figures()
    live = dict(
        RolloutStep.objects.filter(rolled_back_at__isnull=True, changes__rolled_back_at__isnull=True)
        .values_list("stage")
        .annotate(bars=Count("changes"))
        .values_list("stage", "bars")
    )
    starts = dict(
        RolloutStep.objects.filter(rolled_back_at__isnull=True)
        .values_list("stage")
        .annotate(first=Min("created_at"))
        .values_list("stage", "first")
    )
    current_index = STAGE_ORDER.index(Stage(state.stage))
    rows = []
    for index, stage in enumerate(STAGE_ORDER[1:], start=1):
        cohort, simplified = figures[stage]
        health, runs = "", 0
        if index <= current_index and stage in starts:
            following = next_stage(stage)
            end = starts.get(following) if following and index < current_index else None
            statuses = monitoring_selectors.run_statuses_between(starts[stage], end)
            health, runs = _worst(statuses), len(statuses)
        rows.append(
            StageRow(
                stage=stage,
                label=Stage(stage).label,
                cohort=cohort,
                simplified=simplified,
                switched_by_rollout=live.get(stage, 0),
                is_current=index == current_index,
                is_done=index < current_index,
                health=health,
                health_runs=runs,
            )
        )
    return rows


@dataclass(frozen=True)
class RolloutOverview:
    state: RolloutState
    stages: list[StageRow]
    gates: list
    entering_next_stage: bool
    next_target: str | None
    remaining_in_stage: int
    latest_run: object | None  # monitoring's latest finished health run
    critical_alerts: list
    kill_switch_engaged: bool
    figures: dict
    comparison: CohortComparison


def rollout_overview(*, now=None) -> RolloutOverview:
    """Everything the rollout page shows about stages and gates, in a bounded number of queries."""
    state, _ = RolloutState.objects.get_or_create(pk=RolloutState.SINGLETON_ID)
    remaining = remaining_in_stage(state.stage)
    target = state.stage if remaining else next_stage(state.stage)
    entering = target is not None and target != state.stage
    now = now or timezone.now()
    comparison = current_comparison(now=now, state=state)
    figures = cohort_figures()  # one scan of `bars` for the stage rows and the totals
    return RolloutOverview(
        state=state,
        stages=stage_rows(state, figures),
        gates=evaluate_gates(state=state, now=now, entering_next_stage=entering, comparison=comparison)
        if target
        else [],
        entering_next_stage=entering,
        next_target=target,
        remaining_in_stage=remaining,
        latest_run=monitoring_selectors.latest_finished_run(),
        critical_alerts=monitoring_selectors.open_critical_alerts(limit=20),
        kill_switch_engaged=kill_switch_engaged(),
        figures=figures,
        comparison=comparison,
    )


# --- Timeline -------------------------------------------------------------------------------------
def timeline():
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


# --- Deployment records ---------------------------------------------------------------------------
def record_window(record: DeploymentRecord):
    end = record.ended_at or timezone.now()
    return record.started_at, max(end, record.started_at)


def record_timeline(record: DeploymentRecord) -> list[dict]:
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


def record_monitoring(record: DeploymentRecord) -> dict:
    """The runbook's "Monitoring Results (First 24 hours)": the four figures computed over the window that starts
    with the code deployment (records.monitoring_window), and per check what the health runs in it saw."""
    start, end = records.monitoring_window(record)
    now = timezone.now()
    run_count = monitoring_selectors.runs_finished_between(start, end)
    names = settings.ROLLOUT_RECORD_CHECKS
    per_check: dict[str, dict] = {}
    for name, status, value in monitoring_selectors.results_between(start, end):
        _accumulate(per_check, name, status, value)
    figures = records.window_figures(start=start, end=min(end, now), latency_check=names["latency_ms"])
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
    from rollout import cockpit  # the cockpit reads this module: its time boxes are asked for here only

    return {
        "timeline": record_timeline(record),
        "milestones": records.record_milestones(record),
        "verification": records.record_verification(record),
        "monitoring": record_monitoring(record),
        "checklist": records.record_checklist(record),
        "timeboxes": cockpit.timeboxes(user=record.deployer, now=record.ended_at),
        "decisions": records.record_decisions(record),
    }


def record_contents(record: DeploymentRecord) -> dict:
    """Verification, timeline and monitoring: frozen once both have signed, live before."""
    if record.snapshot:
        return record.snapshot
    return record_snapshot(record)
