"""Runbook 1.1's load test: "simulate 100+ sales/second to verify RLS index performance", as the clients do it.

Sales are inserted at a set rate for a set time as Supabase's clients send them through PostgREST: each statement in
its own transaction, as the role `authenticated` (RLS_PROBE_ROLE, or LOAD_TEST_DB_ROLE) with `request.jwt.claims`
set for the signed-in BarTender user, both transaction-local (so it also runs through a pooler in transaction mode).
Every statement goes through the Row Level Security policies the BarTender clients meet (the panel's own role owns
the tables, which RLS does not restrict). The writes go into a scratch bar in simplified mode, created for the test
with BarTender users of its own (auth.users) and removed afterwards with every row it got, so the test leaves nothing
behind. Once Phase 2 has added server_id, a manager records sales on behalf of its servers (the policy that costs
most); before it (Phase 1, where the runbook puts the load test) the manager records them as BarTender does today,
and the client reads that name a server_id are left out. Insert and select latencies are measured one statement at a
time and reported as p50/p95/p99 against the RLS target (DESIGN.md section 8: p95 under 50 ms, inserts at 100/s).

It refuses to run while a rollout stage is live: it would add load and sales while real bars are switching.

The client statements are all in LOAD_TEST_QUERIES (one list), so they can be kept in line with the client query
set the RLS work (issue 16) measures.
"""

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import psycopg
from django.conf import settings
from django.db import connection
from psycopg.types.json import Jsonb

from adminpanel import runbook_sql
from rollout.models import RolloutState, Stage

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadQuery:
    name: str
    kind: str  # "insert" or "select": which latency family it counts in
    as_user: str  # "manager" or "server": whose JWT claims it runs under
    sql: str


# What a BarTender client sends while a bar works in simplified mode. Parameters: bar, manager, server, name.
LOAD_TEST_QUERIES = (
    LoadQuery(
        "manager records a sale for a server (simplified mode)",
        "insert",
        "manager",
        "INSERT INTO sales (bar_id, server_id, created_by, server_name, amount, created_at) "
        "VALUES (%(bar)s, %(server)s, %(manager)s, %(name)s, %(amount)s, now()) RETURNING id",
    ),
)
# Before Phase 2 (no server_id yet): the manager records the sale, the typed name kept as today.
BEFORE_PHASE2_INSERT = LoadQuery(
    "manager records a sale (before Mode Switching)",
    "insert",
    "manager",
    "INSERT INTO sales (bar_id, created_by, server_name, amount, created_at) "
    "VALUES (%(bar)s, %(manager)s, %(name)s, %(amount)s, now()) RETURNING id",
)
# The selects are BarTender's client queries, the same set the health check probes every run (issue 16).
LOAD_TEST_QUERIES += tuple(
    LoadQuery(name, "select", role, sql.replace("%(user)s", "%(server)s"))
    for role, name, sql in runbook_sql.RLS_CLIENT_QUERIES
)
SERVERS = 4
# What PostgREST does at the start of each request's transaction.
AS_CLIENT = "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true)"
# The server-side select reads the sales of the first scratch server, whose session it runs in.


class LoadTestRefused(Exception):
    """The load test may not run now (a stage is live, bad parameters, no usable role)."""


@dataclass
class LoadTestResult:
    rate: int
    seconds: int
    inserts: int
    selects: int
    errors: int
    achieved_rate: float
    insert_ms: dict
    select_ms: dict
    target_ms: float
    scratch_bar: str
    role: str
    first_error: str
    rls: dict

    @property
    def passed(self) -> bool:
        return (
            self.errors == 0
            and self.inserts > 0
            and self.insert_ms["p95"] < self.target_ms
            and self.select_ms["p95"] < self.target_ms
            and self.achieved_rate >= 0.9 * self.rate
        )

    def as_dict(self) -> dict:
        return {
            "rate": self.rate,
            "seconds": self.seconds,
            "inserts": self.inserts,
            "selects": self.selects,
            "errors": self.errors,
            "achieved_rate": self.achieved_rate,
            "insert_ms": self.insert_ms,
            "select_ms": self.select_ms,
            "target_ms": self.target_ms,
            "scratch_bar": self.scratch_bar,
            "role": self.role,
            "first_error": self.first_error,
            "rls": self.rls,
            "queries": [{"name": q.name, "kind": q.kind, "as": q.as_user, "sql": q.sql} for q in LOAD_TEST_QUERIES],
        }


def percentiles(samples: list[float]) -> dict:
    """p50/p95/p99 (and max) in milliseconds, nearest-rank; zeros for no samples."""
    if not samples:
        return {"p50": 0.0, "p95": 0.0, "p99": 0.0, "max": 0.0, "count": 0}
    ordered = sorted(samples)

    def rank(pct: float) -> float:
        return round(ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)], 2)

    return {"p50": rank(50), "p95": rank(95), "p99": rank(99), "max": round(ordered[-1], 2), "count": len(ordered)}


def check_may_run(*, rate: int, seconds: int) -> None:
    """Refuse bad parameters and a live rollout stage, before anything is written."""
    if not 1 <= rate <= 1000:
        raise LoadTestRefused("The rate must be between 1 and 1,000 sales per second.")
    if not 1 <= seconds <= settings.LOAD_TEST_MAX_SECONDS:
        raise LoadTestRefused(f"The duration must be between 1 and {settings.LOAD_TEST_MAX_SECONDS} seconds.")
    state = RolloutState.objects.filter(pk=RolloutState.SINGLETON_ID).first()
    if state is not None and state.stage != Stage.OFF:
        raise LoadTestRefused(
            f"Stage {state.get_stage_display()} is live: a load test now would add load and sales while real bars "
            "are switching. Run it before the rollout (Phase 1), or roll the stage back first."
        )


def _connect() -> psycopg.Connection:
    """A connection of its own (autocommit): the statements must commit one by one, as a client's do."""
    params = connection.get_connection_params()
    for key in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(key, None)
    return psycopg.connect(**params, autocommit=True)


@dataclass
class _Scratch:
    bar: str
    manager: str
    servers: list[str]
    names: list[str]
    role: str
    claims: dict


def _create_scratch(conn: psycopg.Connection, tag: str) -> _Scratch:
    bar = str(uuid.uuid4())
    manager = str(uuid.uuid4())
    servers = [str(uuid.uuid4()) for _ in range(SERVERS)]
    names = [f"Load test server {n + 1}" for n in range(SERVERS)]
    with conn.transaction():
        conn.execute(
            "INSERT INTO bars (id, name, settings, is_internal, created_at) "
            "VALUES (%s, %s, '{\"operatingMode\": \"simplified\"}'::jsonb, false, now())",
            [bar, f"Load test scratch bar {tag}"],
        )
        for user_id, role, name in [(manager, "manager", "Load test manager")] + [
            (server, "server", label) for server, label in zip(servers, names, strict=True)
        ]:
            conn.execute(
                "INSERT INTO auth.users (id, email, raw_user_meta_data, created_at) VALUES (%s, %s, %s, now())",
                [user_id, f"loadtest-{tag}-{user_id[:8]}@load-test.invalid",
                 Jsonb({"username": f"loadtest-{tag}-{user_id[:8]}", "full_name": name})],
            )  # fmt: skip
            conn.execute(
                "INSERT INTO bar_members (bar_id, user_id, role, is_active, created_at) "
                "VALUES (%s, %s, %s, true, now())",
                [bar, user_id, role],
            )
    role = settings.LOAD_TEST_DB_ROLE or settings.RLS_PROBE_ROLE
    claims = {
        who: json.dumps({"sub": user_id, "role": role, "aud": "authenticated"})
        for who, user_id in (("manager", manager), ("server", servers[0]))
    }
    return _Scratch(bar, manager, servers, names, role, claims)


def _remove_scratch(conn: psycopg.Connection, scratch: _Scratch) -> None:
    """Delete everything the test created, as the owner: its sales, members, users and bar."""
    with conn.transaction():
        users = [scratch.manager, *scratch.servers]
        conn.execute("DELETE FROM sales WHERE bar_id = %s", [scratch.bar])
        conn.execute("DELETE FROM bar_members WHERE bar_id = %s", [scratch.bar])
        conn.execute("DELETE FROM feature_flag_bars WHERE bar_id = %s", [scratch.bar])
        conn.execute("DELETE FROM auth.users WHERE id = ANY(%s::uuid[])", [users])
        conn.execute("DELETE FROM bars WHERE id = %s", [scratch.bar])


def run_load_test(
    *,
    rate: int,
    seconds: int,
    progress: Callable[[int, str], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> LoadTestResult:
    """Insert `rate` sales per second for `seconds` seconds under RLS, reading back between inserts; always
    removes its scratch bar and role, even when it fails."""
    check_may_run(rate=rate, seconds=seconds)
    total = rate * seconds
    tag = uuid.uuid4().hex[:10]
    owner = _connect()
    has_server_id = _has_server_id(owner)
    insert_query = next(q for q in LOAD_TEST_QUERIES if q.kind == "insert") if has_server_id else BEFORE_PHASE2_INSERT
    select_queries = [
        q for q in LOAD_TEST_QUERIES if q.kind == "select" and (has_server_id or "server_id" not in q.sql)
    ]
    clients: dict[str, _Client] = {}
    scratch = None
    writes, reads = _Tally(), _Tally()
    try:
        scratch = _create_scratch(owner, tag)
        # Client sessions as devices hold them: the manager's till (writes), the manager's and a server's screens
        # (reads, on their own thread so that reading never slows the write rate down).
        for who in ("manager", "manager_reads", "server"):
            clients[who] = _Client(_connect(), scratch.role, scratch.claims["server" if who == "server" else "manager"])
        rls = _rls_self_check(owner, clients["manager"], scratch)
        values = {"bar": scratch.bar, "manager": scratch.manager, "server": scratch.servers[0]}
        # Each session sends its statements once before the clock starts, as a client's warm connection has.
        warm = {**values, "name": scratch.names[0], "amount": 100}
        for query in [insert_query, *select_queries]:
            for who in ("manager", "manager_reads") if query.as_user == "manager" else ("server",):
                if query.kind == "select" or who == "manager":
                    clients[who].run(query.sql, warm)
        progress(2, f"scratch bar and role {scratch.role} ready; inserting {total:,} sales at {rate}/s")
        started = clock()
        reader = threading.Thread(
            target=_read_loop,
            kwargs={"clients": clients, "queries": select_queries, "values": values, "rate": rate, "total": total,
                    "started": started, "clock": clock, "sleep": sleep, "tally": reads},
            daemon=True,
        )  # fmt: skip
        reader.start()
        last_report = started
        for i in range(total):
            _pace(started + i / rate, clock, sleep)
            row = {
                **values,
                "server": scratch.servers[i % len(scratch.servers)],
                "name": scratch.names[i % len(scratch.names)],
                "amount": 500 + (i % 40) * 100,
            }
            writes.time(clients[insert_query.as_user], insert_query.sql, row)
            now = clock()
            if now - last_report >= 0.5:
                last_report = now
                progress(
                    min(97, 2 + (i + 1) * 95 // total),
                    f"{i + 1:,} of {total:,} sales inserted; insert p95 so far {percentiles(writes.samples)['p95']} ms",
                )
        elapsed = max(clock() - started, 1e-9)
        reader.join()
    finally:
        try:
            for client in clients.values():
                client.conn.close()
            if scratch is not None:
                _remove_scratch(owner, scratch)
        finally:
            owner.close()
    return LoadTestResult(
        rate=rate,
        seconds=seconds,
        inserts=len(writes.samples),
        selects=len(reads.samples),
        errors=writes.errors + reads.errors,
        achieved_rate=round(len(writes.samples) / elapsed, 1),
        insert_ms=percentiles(writes.samples),
        select_ms=percentiles(reads.samples),
        target_ms=settings.LOAD_TEST_TARGET_MS,
        scratch_bar=scratch.bar,
        role=scratch.role,
        first_error=(writes.first_error or reads.first_error)[:500],
        rls=rls,
    )


class _Tally:
    """Latencies of one stream of statements, and its refusals."""

    def __init__(self):
        self.samples: list[float] = []
        self.errors = 0
        self.first_error = ""

    def time(self, client: "_Client", sql: str, values: dict) -> None:
        try:
            elapsed = client.run(sql, values)
        except psycopg.Error as exc:
            self.errors += 1
            self.first_error = self.first_error or f"{type(exc).__name__}: {exc}".strip()
            return
        self.samples.append(elapsed)


@dataclass
class _Client:
    """A device's session: every statement in its own transaction, as `role` with the user's JWT claims."""

    conn: psycopg.Connection
    role: str
    claims: str

    def run(self, sql: str, values: dict | list | None = None) -> float:
        """The statement's own milliseconds (the transaction-local client settings before it are not counted)."""
        with self.conn.transaction():
            self.conn.execute(AS_CLIENT, [self.role, self.claims])
            started = time.perf_counter()
            self.conn.execute(sql, values).fetchall()
            return (time.perf_counter() - started) * 1000

    def one(self, sql: str, values: dict | list | None = None):
        with self.conn.transaction():
            self.conn.execute(AS_CLIENT, [self.role, self.claims])
            return self.conn.execute(sql, values).fetchone()


def _has_server_id(conn: psycopg.Connection) -> bool:
    return conn.execute(
        "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = 'sales' AND column_name = 'server_id')"
    ).fetchone()[0]


def _pace(due: float, clock, sleep) -> None:
    wait = due - clock()
    if wait > 0:
        sleep(wait)


def _read_loop(*, clients, queries, values, rate, total, started, clock, sleep, tally) -> None:
    """One read per insert, at the same rate, alternating the manager's and the server's list (psycopg only)."""
    for i in range(total):
        _pace(started + (i + 0.5) / rate, clock, sleep)
        query = queries[i % len(queries)]
        tally.time(clients["manager_reads" if query.as_user == "manager" else "server"], query.sql, values)


def _rls_self_check(owner: psycopg.Connection, conn: "_Client", scratch: _Scratch) -> dict:
    """Prove the statements run under RLS: the role is neither the tables' owner, nor superuser, nor BYPASSRLS, and
    the scratch manager sees none of another bar's sales (one bar's rows, read by its index: bounded at any size)."""
    other = owner.execute("SELECT bar_id FROM sales WHERE bar_id <> %s LIMIT 1", [scratch.bar]).fetchone()
    role, bypass, superuser, table_owner = conn.one(
        "SELECT current_user, r.rolbypassrls, r.rolsuper, "
        "(SELECT tableowner FROM pg_tables WHERE schemaname = 'public' AND tablename = 'sales') "
        "FROM pg_roles r WHERE r.rolname = current_user"
    )
    visible = 0
    if other:
        visible = conn.one("SELECT count(*) FROM (SELECT 1 FROM sales WHERE bar_id = %s LIMIT 100) seen", [other[0]])[0]
    enforced = not bypass and not superuser and role != table_owner and visible == 0
    if not enforced:
        raise LoadTestRefused(
            f"The load test's role {role} is not held to Row Level Security (table owner {table_owner}, bypassrls "
            f"{bypass}, superuser {superuser}, sees {visible} sales of another bar): set LOAD_TEST_DB_ROLE to a "
            "client role."
        )
    return {
        "role": role,
        "table_owner": table_owner,
        "checked_bar": str(other[0]) if other else None,
        "other_bar_sales_seen": visible,
        "enforced": enforced,
    }
