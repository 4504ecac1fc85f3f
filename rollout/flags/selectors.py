"""Flag reads: the flags of one bar (the app's question and the flag API's), the bulk snapshot, the page's rows."""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from functools import lru_cache

import psycopg
from django.conf import settings
from django.db import connection
from django.db.models import Count
from guardian.core import ObjectPermissionChecker

from adminpanel.permissions import FLIP_FLAG
from rollout.flags.flag_cache import flag_cache
from rollout.models import DEFAULT_FLAGS, FeatureFlag, FeatureFlagGroupObjectPermission, FeatureFlagUserObjectPermission


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
    # Why each flag has its value, as OpenFeature names it (rollout/flags/ofrep.py serves it): DISABLED (kill switch),
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

    Served from the process's flag cache while its LISTEN connection is up (rollout/flags/flag_cache.py: dropped on
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
    goes. Kept per process and per scope until the next change notification (rollout/flags/flag_cache.py).
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
