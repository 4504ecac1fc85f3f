"""Bench: Row Level Security as BarTender's clients meet it, under runbook step 3's policies.

    bin/dev setup && .venv/bin/python bench/rls.py              # fresh database, 10k bars / 5M sales
    .venv/bin/python bench/rls.py --reuse                        # the database an earlier run left

DESIGN.md §8 wants every client query of each role p95 < 50 ms at 5M sales, inserts at 100/s included (the
runbook's "RLS latency < 50 ms"). The bench creates its own database `bartender_rlsbench` on bin/dev's cluster
(port BARTENDER_PG_PORT, 25432 by default), migrates the panel's schema, creates the Supabase-shaped stand-in,
applies the runbook's six migrations with the panel's Phase 2 machinery, seeds it with set-based SQL, and then runs
every client query as Supabase's clients do — role `authenticated` with `request.jwt.claims` naming a random server
or manager — while
sales are recorded at 100/s in full mode and 100/s in simplified mode. It prints p50/p95/p99 per query; a sample
cut by the statement timeout counts as the timeout and is shown with ">=". Figures and their reading:
bench/rls_README.md.
"""

import argparse
import json
import math
import os
import random
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adminpanel.config import local_secret_key  # noqa: E402

PORT = os.environ.get("BARTENDER_PG_PORT", "25432")
BENCH_DB = "bartender_rlsbench"
# Like BarTender's client role: table grants only, no access to bar_members (the policies' functions read it).
CLIENT_ROLE = "authenticated"
INSERTS_PER_SECOND = 100
P95_TARGET_MS = 50


@dataclass(frozen=True)
class ClientQuery:
    """A statement a BarTender client sends as `role` ("server" or "manager") of a bar in `mode` (any if None).

    Parameters: %(user)s is the signed-in user (the JWT claims' sub), %(bar)s their bar, %(server)s a server of
    that bar.
    """

    name: str
    role: str
    sql: str
    mode: str | None = None


CLIENT_QUERIES = (
    ClientQuery(
        "server: my sales today", "server", "SELECT count(*) FROM sales WHERE created_at > now() - interval '1 day'"
    ),
    ClientQuery(
        "server: my sales this week",
        "server",
        "SELECT count(*) FROM sales WHERE created_at > now() - interval '7 days'",
    ),
    ClientQuery(
        "server: my latest 20, no filter", "server", "SELECT id, amount FROM sales ORDER BY created_at DESC LIMIT 20"
    ),
    ClientQuery(
        "server: my latest 20, server_id filter",
        "server",
        "SELECT id, amount FROM sales WHERE server_id = %(user)s ORDER BY created_at DESC LIMIT 20",
    ),
    ClientQuery(
        "manager: bar's sales today",
        "manager",
        "SELECT count(*) FROM sales WHERE bar_id = %(bar)s AND created_at > now() - interval '1 day'",
    ),
    ClientQuery(
        "manager: bar's latest 20",
        "manager",
        "SELECT id, amount FROM sales WHERE bar_id = %(bar)s ORDER BY created_at DESC LIMIT 20",
    ),
    ClientQuery(
        "manager: latest 20, no filter", "manager", "SELECT id, amount FROM sales ORDER BY created_at DESC LIMIT 20"
    ),
)

INSERTS = (
    ClientQuery(
        "server: records own sale (full mode)",
        "server",
        "INSERT INTO sales (bar_id, server_id, created_by, amount, created_at) "
        "VALUES (%(bar)s, %(user)s, %(user)s, 1500, now())",
        mode="full",
    ),
    ClientQuery(
        "manager: records a server's sale (simplified)",
        "manager",
        "INSERT INTO sales (bar_id, server_id, created_by, amount, created_at) "
        "VALUES (%(bar)s, %(server)s, %(user)s, 1500, now())",
        mode="simplified",
    ),
)

# Bound client-side (%% is a literal %). Per bar i: k=0 owner, k=1 manager, k=2..5 servers. Even bars are in
# simplified mode, one in ten is "full", the rest have not chosen. Sale g belongs to bar g mod N and one of its
# servers, over the last 30 days; one in twenty has no server_id (a name the backfill could not resolve); in
# simplified mode the manager records it. Sales are stored in time order, as a live table is.
SEED_PEOPLE = """
CREATE TEMP TABLE bench_people AS
SELECT i, md5('rlsbench:bar:' || i)::uuid AS bar_id, k, md5('rlsbench:user:' || i || ':' || k)::uuid AS user_id,
       CASE k WHEN 0 THEN 'owner' WHEN 1 THEN 'manager' ELSE 'server' END AS role, i %% 2 = 0 AS simplified,
       md5('rlsbench:user:' || i || ':1')::uuid AS manager_id
FROM generate_series(0, %(bars)s - 1) AS i, generate_series(0, 5) AS k;
CREATE INDEX ON bench_people (i, k);
ANALYZE bench_people
"""
SEED_BARS = """
INSERT INTO bars (id, name, settings, is_internal, created_at)
SELECT bar_id, 'Bench bar ' || i,
       CASE WHEN simplified THEN '{"operatingMode": "simplified"}'::jsonb
            WHEN i %% 10 = 9 THEN '{"operatingMode": "full"}'::jsonb ELSE '{}'::jsonb END,
       false, now() - interval '1 year'
FROM bench_people WHERE k = 0
"""
SEED_USERS = """
INSERT INTO auth.users (id, email, raw_user_meta_data, created_at)
SELECT user_id, 'rlsbench-' || i || '-' || k || '@bench.invalid',
       jsonb_build_object('username', 'rlsbench-' || i || '-' || k, 'full_name', 'Bench ' || role || ' ' || k), now()
FROM bench_people
"""
SEED_MEMBERS = """
INSERT INTO bar_members (bar_id, user_id, role, is_active, created_at)
SELECT bar_id, user_id, role, true, now() - interval '1 year' FROM bench_people
"""
SEED_SALES = """
INSERT INTO sales (bar_id, server_id, created_by, server_name, amount, created_at)
SELECT s.bar_id, CASE WHEN r.h %% 20 <> 0 THEN s.user_id END,
       CASE WHEN s.simplified THEN s.manager_id ELSE s.user_id END, 'Bench server ' || s.k, 100 + r.h %% 5000, r.at
FROM (SELECT g, h, now() - make_interval(secs => (h >> 8) %% (30 * 86400)) AS at
      FROM (SELECT g, hashint8extended(g, 42) & 9223372036854775807 AS h
            FROM generate_series(0, %(sales)s - 1) AS g) AS hashed) AS r
JOIN bench_people s ON s.i = r.g %% %(bars)s AND s.k = 2 + (r.h >> 4) %% 4
ORDER BY r.at
"""
# Building the indexes once after the load is several times faster than maintaining them row by row.
SALES_INDEXES = """
SELECT indexname, indexdef FROM pg_indexes
WHERE schemaname = 'public' AND tablename = 'sales' AND indexname <> 'sales_pkey'
"""

PEOPLE = """
SELECT m.role, b.settings->>'operatingMode', m.user_id::text, m.bar_id::text,
       (SELECT s.user_id::text FROM bar_members s WHERE s.bar_id = m.bar_id AND s.role = 'server' LIMIT 1)
FROM bar_members m JOIN bars b ON b.id = m.bar_id
WHERE m.is_active AND m.role IN ('server', 'manager')
"""


@dataclass(frozen=True)
class Person:
    role: str
    mode: str | None
    user: str
    bar: str
    server: str

    @property
    def params(self) -> dict[str, str]:
        return {"user": self.user, "bar": self.bar, "server": self.server}


def url(user: str, database: str) -> str:
    return f"postgresql://{user}@127.0.0.1:{PORT}/{database}"


def manage(*args: str) -> str:
    """manage.py on the bench database (migrate, sqlmigrate): the migrations' own code, not a copy of it."""
    # The panel refuses to start with DEBUG off and no SECRET_KEY: the local key kept in the ignored .var/.
    env = {"SECRET_KEY": local_secret_key(ROOT / ".var"), **os.environ, "DATABASE_URL": url("bartender", BENCH_DB)}
    command = [sys.executable, str(ROOT / "manage.py"), *args]
    return subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout  # noqa: S603


def psql(sql: str) -> None:
    """Runs `sql` statement by statement in autocommit, as CREATE/DROP INDEX CONCURRENTLY needs."""
    command = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url("bartender", BENCH_DB)]
    subprocess.run(command, input=sql, check=True, capture_output=True, text=True)  # noqa: S603, S607


def create_database(*, bars: int, sales: int) -> None:
    """A fresh, migrated, seeded and analysed bench database; the dev database is never touched."""
    with psycopg.connect(url("bartender", "postgres"), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB}")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    started = time.perf_counter()
    manage("migrate", "--noinput")
    manage("standin", "--phase2")
    print(f"migrated, stand-in created and the six runbook migrations applied in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    params = {"bars": bars, "sales": sales}
    # As the cluster's superuser, only to skip the foreign-key triggers (session_replication_role): every seeded
    # row points at rows seeded just before, and checking 5M rows' keys one by one makes the load several times
    # slower. Client-side binding: CREATE TABLE AS takes no server-side parameters.
    with psycopg.connect(url("postgres", BENCH_DB), cursor_factory=psycopg.ClientCursor) as conn, conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
        conn.execute("SET LOCAL work_mem = '256MB'")
        for sql in (SEED_PEOPLE, SEED_BARS, SEED_USERS, SEED_MEMBERS):
            conn.execute(sql, params)
        indexes = conn.execute(SALES_INDEXES).fetchall()
        for name, _ in indexes:
            conn.execute(f"DROP INDEX {name}")
        conn.execute(SEED_SALES, params)
        for _, definition in indexes:
            conn.execute(definition)
    with psycopg.connect(url("bartender", BENCH_DB), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE bars, auth.users, bar_members, sales")
    print(f"seeded {bars} bars, {bars * 6} members, {sales} sales in {time.perf_counter() - started:.0f} s")


def client_connection() -> psycopg.Connection:
    # No server-side prepared statements: every execution is planned with its own values, as psql plans them.
    conn = psycopg.connect(url("bartender", BENCH_DB), autocommit=True, prepare_threshold=None)
    conn.execute("SELECT set_config('role', %s, false)", [CLIENT_ROLE])
    return conn


def claims_of(user: str) -> str:
    return json.dumps({"sub": user, "role": CLIENT_ROLE, "aud": "authenticated"})


def load_people() -> list[Person]:
    with psycopg.connect(url("bartender", BENCH_DB)) as conn:
        return [Person(*row) for row in conn.execute(PEOPLE)]


def pool(people: list[Person], query: ClientQuery) -> list[Person]:
    return [p for p in people if p.role == query.role and (query.mode is None or p.mode == query.mode)]


def timed(cursor: psycopg.Cursor, query: ClientQuery, person: Person, timeout_ms: int) -> float:
    """Milliseconds of one execution as `person`; a statement cut by the timeout counts as the timeout."""
    cursor.execute("SELECT set_config('request.jwt.claims', %s, false)", [claims_of(person.user)])
    started = time.perf_counter()
    try:
        cursor.execute(query.sql, person.params)
        if cursor.description:
            cursor.fetchall()
    except psycopg.errors.QueryCanceled:
        return float(timeout_ms)
    return (time.perf_counter() - started) * 1000


class InsertLoad(threading.Thread):
    """Records sales at INSERTS_PER_SECOND as one kind of client, on its own connection, timing each one."""

    def __init__(self, query: ClientQuery, people: list[Person], timeout_ms: int):
        super().__init__(daemon=True)
        self.query, self.people, self.timeout_ms = query, people, timeout_ms
        self.samples: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        rng = random.Random(self.query.name)
        with client_connection() as conn, conn.cursor() as cursor:
            cursor.execute(f"SET statement_timeout = {self.timeout_ms}")
            next_at = time.perf_counter()
            while not self.stop.is_set():
                self.samples.append(timed(cursor, self.query, rng.choice(self.people), self.timeout_ms))
                next_at += 1 / INSERTS_PER_SECOND
                self.stop.wait(max(0.0, next_at - time.perf_counter()))


def measure(people: list[Person], args: argparse.Namespace) -> dict[str, list[float]]:
    """Every client query for up to args.samples samples or args.budget seconds (at least 3), inserts running."""
    loads = [InsertLoad(q, pool(people, q), args.timeout) for q in INSERTS]
    for load in loads:
        load.start()
    started = time.perf_counter()
    results = {}
    with client_connection() as conn, conn.cursor() as cursor:
        cursor.execute(f"SET statement_timeout = {args.timeout}")
        for query in CLIENT_QUERIES:
            rng, candidates = random.Random(query.name), pool(people, query)
            deadline = time.perf_counter() + args.budget
            samples = results[query.name] = []
            while len(samples) < args.samples and (len(samples) < 3 or time.perf_counter() < deadline):
                samples.append(timed(cursor, query, rng.choice(candidates), args.timeout))
    time.sleep(max(0.0, args.insert_seconds - (time.perf_counter() - started)))
    for load in loads:
        load.stop.set()
        load.join()
        results[load.query.name] = load.samples
    return results


def percentile(samples: list[float], p: float) -> float:
    """Nearest-rank percentile: a value that was measured."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def report(results: dict[str, dict[str, list[float]]], timeout_ms: int) -> None:
    def cell(value: float) -> str:
        return f">={value:.0f}" if value >= timeout_ms else f"{value:.1f}"

    print(f"\n{'query':48} {'policies':8} {'n':>5} {'p50 ms':>9} {'p95 ms':>9} {'p99 ms':>9}")
    for query in (*CLIENT_QUERIES, *INSERTS):
        for label, by_query in results.items():
            samples = by_query[query.name]
            figures = " ".join(f"{cell(percentile(samples, p)):>9}" for p in (50, 95, 99))
            print(f"{query.name:48} {label:8} {len(samples):5} {figures}")
    missed = [q.name for q in (*CLIENT_QUERIES, *INSERTS) if percentile(results["step 3"][q.name], 95) >= P95_TARGET_MS]
    print(f"\nstep 3: p95 < {P95_TARGET_MS} ms for every query" + (f" except: {'; '.join(missed)}" if missed else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bars", type=int, default=10_000)
    parser.add_argument("--sales", type=int, default=5_000_000)
    parser.add_argument("--reuse", action="store_true", help="measure the database an earlier run seeded")
    parser.add_argument("--samples", type=int, default=200, help="samples per query at most (default 200)")
    parser.add_argument("--budget", type=float, default=20, help="seconds per query at most (default 20)")
    parser.add_argument("--timeout", type=int, default=10_000, help="statement timeout, ms (default 10000)")
    parser.add_argument("--insert-seconds", type=float, default=10, help="insert load lasts at least (default 10)")
    args = parser.parse_args()
    if not args.reuse:
        create_database(bars=args.bars, sales=args.sales)
    people = load_people()
    results = {"step 3": measure(people, args)}
    report(results, args.timeout)


if __name__ == "__main__":
    main()
