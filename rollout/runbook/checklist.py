"""Stage 4a's Internal Testing Checklist (runbook 4.1), filled from evidence; it gates stage 4b (DESIGN.md §4d).

Each of the runbook's eight items is measured in the test bars (internal bars in simplified mode) since stage 4a's
first step: the sales made there, their server_ids sampled against the name mappings, the resolutions and the
refusals the resolver wrote to the audit logs, the per-server totals, consignments and returns, what a sampled
server sees under RLS (as Supabase's clients run: role ``authenticated`` with ``request.jwt.claims`` set
transaction-locally), and the error logs. The one item the data cannot show — that the BarTender app's analytics
screen shows these per-server figures right — is attested by a person with a link (rollout/runbook/attestations.py).
Read-only; every query is bounded by the test bars and the window.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from adminpanel.models import AuthUser, Bar
from mappings import selectors as mapping_selectors
from mappings.names import normalize_server_name
from monitoring.health.check_base import jwt_claims
from rollout.models import EventKind, RolloutEvent, RolloutStep, Stage
from rollout.runbook.load_test import AS_CLIENT

SALES_CREATED = "sales_created"
SERVER_ID_CORRECT = "server_id_correct"
MAPPING_RESOLUTION = "mapping_resolution"
ERROR_BLOCKING = "error_blocking"
SERVER_ANALYTICS = "server_analytics"
CONSIGNMENTS_RETURNS = "consignments_returns"
ROLE_FILTERING = "role_filtering"
LOGS_CLEAN = "logs_clean"
# The runbook's wording, in its order.
ITEMS = {
    SALES_CREATED: "Create sales in simplified mode",
    SERVER_ID_CORRECT: "Verify server_id is populated correctly",
    MAPPING_RESOLUTION: "Test server name mapping resolution",
    ERROR_BLOCKING: "Test error blocking (try invalid server names)",
    SERVER_ANALYTICS: "Verify analytics show correct server performance",
    CONSIGNMENTS_RETURNS: "Test consignments/returns with server_id",
    ROLE_FILTERING: "Test role-based filtering (servers see only their sales)",
    LOGS_CLEAN: "Monitor logs for any errors",
}
# What the data cannot show: a person looks at the BarTender app and attests it with a link.
ATTESTED = {SERVER_ANALYTICS}
SAMPLE = 50
RESOLUTION_ERROR = "server_id_resolution"


@dataclass
class ItemResult:
    key: str
    passed: bool
    why: str
    figures: list[tuple[str, str]] = field(default_factory=list)
    table: list[tuple[str, str, str]] = field(default_factory=list)  # per-server rows: name, sales, amount
    attestation: dict | None = None

    @property
    def label(self) -> str:
        return ITEMS[self.key]

    @property
    def attestable(self) -> bool:
        return self.key in ATTESTED

    def as_dict(self) -> dict:
        """The item as the deployment record keeps it (JSON)."""
        return {"key": self.key, "label": self.label, "passed": self.passed, "why": self.why,
                "figures": self.figures, "table": self.table, "attestation": self.attestation}  # fmt: skip


@dataclass
class Checklist:
    started_at: datetime | None
    until: datetime
    bars: list[str]
    items: list[ItemResult]

    @property
    def complete(self) -> bool:
        return all(item.passed for item in self.items)

    @property
    def done(self) -> int:
        return sum(item.passed for item in self.items)

    @property
    def missing(self) -> list[ItemResult]:
        return [item for item in self.items if not item.passed]

    def as_dict(self) -> dict:
        """The checklist as the deployment record keeps it (JSON)."""
        return {
            "started_at": timezone.localtime(self.started_at).isoformat(timespec="minutes") if self.started_at else "",
            "bars": self.bars, "complete": self.complete, "done": self.done,
            "items": [item.as_dict() for item in self.items],
        }  # fmt: skip


def stage_4a_window(*, now: datetime) -> tuple[datetime | None, datetime]:
    """From stage 4a's first live step to the first step of a later stage (or now)."""
    steps = RolloutStep.objects.filter(rolled_back_at__isnull=True).order_by("created_at")
    start = steps.filter(stage=Stage.INTERNAL).values_list("created_at", flat=True).first()
    later = steps.filter(stage__in=[Stage.HALF, Stage.ALL]).values_list("created_at", flat=True).first()
    return start, (later if later and start and later > start else now)


def attestations(*, since: datetime) -> dict[str, dict]:
    """The latest attestation of each item made since `since` (a 4a started again needs them again)."""
    found = {}
    for event in RolloutEvent.objects.filter(kind=EventKind.CHECKLIST_ATTEST, created_at__gte=since).order_by(
        "created_at", "id"
    ):
        after = event.after or {}
        found[after.get("item")] = {
            "url": after.get("url", ""), "note": event.reason, "by": event.actor_name,
            "at": f"{timezone.localtime(event.created_at):%Y-%m-%d %H:%M}", "event": event.pk,
        }  # fmt: skip
    return found


WINDOW = "bar_id = ANY(%(bars)s) AND created_at >= %(since)s AND created_at < %(until)s"
COUNTS_SQL = f"""
SELECT (SELECT count(*) FROM sales WHERE {WINDOW}), (SELECT count(server_id) FROM sales WHERE {WINDOW}),
       (SELECT count(*) FROM consignments WHERE {WINDOW}), (SELECT count(server_id) FROM consignments WHERE {WINDOW}),
       (SELECT count(*) FROM returns WHERE {WINDOW}), (SELECT count(server_id) FROM returns WHERE {WINDOW}),
       (SELECT count(*) FROM audit_logs WHERE {WINDOW} AND error_type = %(refusal)s),
       (SELECT count(*) FROM audit_logs WHERE {WINDOW} AND level = 'error' AND error_type <> %(refusal)s)
"""  # noqa: S608 (constants)
SAMPLE_SQL = f"""SELECT id, bar_id, server_name, server_id FROM sales
WHERE {WINDOW} AND server_id IS NOT NULL AND coalesce(server_name, '') <> '' ORDER BY created_at DESC LIMIT {SAMPLE}"""  # noqa: S608
REFUSALS_SQL = f"""SELECT payload->>'name', payload->>'code' FROM audit_logs
WHERE {WINDOW} AND error_type = %(refusal)s ORDER BY created_at DESC LIMIT 3"""  # noqa: S608
ERRORS_SQL = f"""SELECT coalesce(nullif(error_type, ''), 'untyped'), count(*) FROM audit_logs
WHERE {WINDOW} AND level = 'error' AND error_type <> %(refusal)s GROUP BY 1 ORDER BY 2 DESC LIMIT 3"""  # noqa: S608
PER_SERVER_SQL = f"""SELECT server_id, count(*), sum(amount) FROM sales WHERE {WINDOW} AND server_id IS NOT NULL
GROUP BY server_id ORDER BY count(*) DESC, server_id LIMIT 10"""  # noqa: S608
# A server (role `server`, active) of a test bar who has sales there: the person whose view is sampled.
SAMPLED_SERVER_SQL = f"""SELECT s.server_id, s.bar_id FROM sales s
JOIN bar_members m ON m.bar_id = s.bar_id AND m.user_id = s.server_id AND m.is_active AND m.role = 'server'
WHERE s.{WINDOW.replace(" AND created_at", " AND s.created_at")} GROUP BY 1, 2 ORDER BY count(*) DESC, 1 LIMIT 1"""  # noqa: S608
# What is in the bar (read by the panel, which RLS does not restrict) and what the server sees (as the server).
SEEN_SQL = """SELECT count(*) FILTER (WHERE server_id = %(me)s),
       count(*) FILTER (WHERE server_id IS DISTINCT FROM %(me)s)
FROM sales WHERE bar_id = %(bar)s"""


class _Undo(Exception):
    """Rolls the client's savepoint back, so its role and JWT claims end with it."""


def seen_as_client(user_id, sql: str, params: dict) -> tuple:
    """One row of `sql` as Supabase's clients run it for `user_id`: role RLS_PROBE_ROLE with ``request.jwt.claims``
    set transaction-locally (the load test's and the health probe's way), inside a savepoint always rolled back."""
    row = None
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(AS_CLIENT, [settings.RLS_PROBE_ROLE, jwt_claims(user_id, settings.RLS_PROBE_ROLE)])
            cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{settings.RLS_PROBE_TIMEOUT_MS}ms"])
            cursor.execute(sql, params)
            row = cursor.fetchone()
            raise _Undo
    except _Undo:
        pass
    return row


def _role_filtering(params: dict) -> ItemResult:
    with connection.cursor() as cursor:
        cursor.execute(SAMPLED_SERVER_SQL, params)
        sampled = cursor.fetchone()
        if sampled is None:
            return ItemResult(ROLE_FILTERING, False, "No server of a test bar has a sale there yet: record sales "
                              "for at least two servers, then a server's view is sampled.")  # fmt: skip
        server_id, bar_id = sampled
        cursor.execute(SEEN_SQL, {"me": server_id, "bar": bar_id})
        own, others = cursor.fetchone()
    name = _names([server_id]).get(str(server_id), "a server")
    try:
        seen_own, seen_others = seen_as_client(server_id, SEEN_SQL, {"me": server_id, "bar": bar_id})
    except Exception as exc:  # noqa: BLE001 - a missing role or a cancelled statement is said, never a 500
        return ItemResult(ROLE_FILTERING, False, f"Could not run as {name} under RLS: {exc}".strip()[:300])
    figures = [("Sampled server", name), ("Their sales in the bar", f"{own:,}"),
               ("Other people's sales in the bar", f"{others:,}"),
               (f"Seen as {name} under RLS", f"{seen_own:,} own, {seen_others:,} of others")]  # fmt: skip
    if others == 0:
        return ItemResult(ROLE_FILTERING, False, f"Only {name} has sales in that bar: record sales for a second "
                          "server so that the test shows something is hidden.", figures)  # fmt: skip
    if seen_others:
        return ItemResult(ROLE_FILTERING, False, f"{name} sees {seen_others:,} sales of other people under RLS.",
                          figures)  # fmt: skip
    if seen_own != own:
        return ItemResult(ROLE_FILTERING, False, f"{name} sees {seen_own:,} of their {own:,} sales under RLS.", figures)
    return ItemResult(ROLE_FILTERING, True, f"{name} sees their {own:,} sales and none of the other {others:,}.",
                      figures)  # fmt: skip


def _n(count: int, word: str) -> str:
    """ "1 sale", "3 sales" — a count with its noun."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def _names(user_ids) -> dict[str, str]:
    users = AuthUser.objects.filter(pk__in=[uid for uid in user_ids if uid])
    return {str(user.pk): str(user) for user in users}


def _not_started(why: str, *, now: datetime, started_at=None, bars=None) -> Checklist:
    return Checklist(started_at, now, bars or [], [ItemResult(key, False, why) for key in ITEMS])


def build(*, now: datetime | None = None) -> Checklist:
    """The eight items as the test bars' data shows them now (each with its evidence and what is missing)."""
    now = now or timezone.now()
    since, until = stage_4a_window(now=now)
    if since is None:
        return _not_started("Stage 4a has not started: the checklist is measured in the test bars from its first "
                            "step.", now=now)  # fmt: skip
    test_bars = list(Bar.objects.filter(is_internal=True, settings__operatingMode="simplified").order_by("name"))
    names = [bar.name for bar in test_bars]
    if not test_bars:
        return _not_started("No internal test bar is in simplified mode.", now=now, started_at=since)
    params = {"bars": [bar.pk for bar in test_bars], "since": since, "until": until, "refusal": RESOLUTION_ERROR}
    with connection.cursor() as cursor:
        cursor.execute(COUNTS_SQL, params)
        sales, with_server, cons, cons_with, rets, rets_with, refusals, errors = cursor.fetchone()
        cursor.execute(SAMPLE_SQL, params)
        sample = cursor.fetchall()
        cursor.execute(REFUSALS_SQL, params)
        refused = cursor.fetchall()
        cursor.execute(ERRORS_SQL, params)
        error_types = cursor.fetchall()
        cursor.execute(PER_SERVER_SQL, params)
        per_server = cursor.fetchall()
    without = sales - with_server
    mapped = mapping_selectors.mapped_users([(bar_id, name) for _, bar_id, name, _ in sample])
    wrong = [
        (sale_id, name) for sale_id, bar_id, name, server_id in sample
        if mapped.get((str(bar_id), normalize_server_name(name))) != str(server_id)
    ]  # fmt: skip
    matched = len(sample) - len(wrong)
    attested = attestations(since=since)
    items = []

    # 1. Sales created in simplified mode.
    figures = [("Test bars", ", ".join(names)), ("Sales since 4a began", f"{sales:,}"),
               ("With server_id", f"{with_server:,}")]  # fmt: skip
    why = (f"{_n(sales, 'sale')} in the test bars, {with_server:,} with a server_id." if with_server
           else "No sale with a server_id in the test bars yet: record sales there in simplified mode.")  # fmt: skip
    items.append(ItemResult(SALES_CREATED, with_server > 0, why, figures))
    # 2. server_id populated, and correct against the mapping of the typed name.
    figures = [("Sales without server_id", f"{without:,}"),
               ("Sampled against the mappings", f"{len(sample):,} (the latest with a typed name)"),
               ("Matching their mapping", f"{matched:,}")]  # fmt: skip
    if without:
        why, ok = f"{_n(without, 'sale')} in the test bars without server_id.", False
    elif not sample:
        why, ok = "No sale with a typed server name to check against the mappings yet.", False
    elif wrong:
        shown = ", ".join(f"#{sale_id} “{name}”" for sale_id, name in wrong[:3])
        why = f"{len(wrong)} of {len(sample)} sampled sales carry a server_id other than their name's mapping: {shown}."
        ok = False
    else:
        why, ok = f"Every sale has a server_id; all {len(sample)} sampled match the mapping of their typed name.", True
    items.append(ItemResult(SERVER_ID_CORRECT, ok, why, figures))
    # 3. Mapping resolution seen (a sale there exists only once its typed name resolved).
    figures = [("Resolved (sales with server_id)", f"{with_server:,}"),
               ("Sampled names resolved by a mapping", f"{matched:,}")]  # fmt: skip
    items.append(ItemResult(MAPPING_RESOLUTION, matched > 0, f"{matched:,} sampled typed names resolved through their "
                            "mapping." if matched else "No typed server name has resolved through a mapping yet.",
                            figures))  # fmt: skip
    # 4. Error blocking: refusals written by the resolver, and no sale got through without a server.
    shown = ", ".join(f"“{name}” ({code})" for name, code in refused)
    figures = [("Refused resolutions (audit logs)", f"{refusals:,}")] + ([("Latest refused", shown)] if shown else [])
    if not refusals:
        why, ok = "No refused resolution in the test bars' audit logs yet: try an unknown server name.", False
    elif without:
        why, ok = f"{_n(refusals, 'refusal')} logged, but {_n(without, 'sale')} got through without a server_id.", False
    else:
        why, ok = f"{_n(refusals, 'invalid name')} refused, and no sale recorded without a server.", True
    items.append(ItemResult(ERROR_BLOCKING, ok, why, figures))
    # 5. Per-server figures: measured here, compared with the app's analytics by a person (attested).
    people = _names([row[0] for row in per_server])
    table = [(people.get(str(uid), str(uid)[:8]), f"{count:,}", f"{amount or 0:,.2f}")
             for uid, count, amount in per_server]  # fmt: skip
    attestation = attested.get(SERVER_ANALYTICS)
    if not table:
        why, ok = "No per-server figures yet: no sale with a server_id in the test bars.", False
    elif attestation is None:
        why, ok = ("Compare these per-server totals with the BarTender app's analytics, then attest it here with a "
                   "link (a screenshot or ticket)."), False  # fmt: skip
    else:
        why, ok = f"Attested by {attestation['by']} {attestation['at']}: {attestation['note']}", True
    items.append(ItemResult(SERVER_ANALYTICS, ok, why, [("Servers with sales", f"{len(table):,}")], table, attestation))
    # 6. Consignments and returns with server_id.
    figures = [("Consignments (with server_id)", f"{cons:,} ({cons_with:,})"),
               ("Returns (with server_id)", f"{rets:,} ({rets_with:,})")]  # fmt: skip
    if not cons_with or not rets_with:
        lacking = " and ".join(kind for kind, count in (("consignment", cons_with), ("return", rets_with)) if not count)
        why, ok = f"No {lacking} with a server_id in the test bars yet.", False
    elif cons_with < cons or rets_with < rets:
        why = f"{_n(cons - cons_with, 'consignment')} and {_n(rets - rets_with, 'return')} without server_id."
        ok = False
    else:
        why, ok = f"{_n(cons, 'consignment')} and {_n(rets, 'return')}, every one with a server_id.", True
    items.append(ItemResult(CONSIGNMENTS_RETURNS, ok, why, figures))
    # 7. Role filtering, measured as a sampled server under RLS.
    items.append(_role_filtering(params))
    # 8. Error logs (the refusals provoked for item 4 are expected and not counted).
    figures = [("Error-level audit logs (refusals aside)", f"{errors:,}")]
    if error_types:
        figures.append(("Most frequent", ", ".join(f"{kind} ({count:,})" for kind, count in error_types)))
    items.append(ItemResult(LOGS_CLEAN, errors == 0, "No error-level audit log in the test bars since 4a began "
                            "(the refused names aside)." if not errors else f"{_n(errors, 'error-level audit log')} in "
                            "the test bars since 4a began: see the audit logs.", figures))  # fmt: skip
    return Checklist(since, until, names, items)
