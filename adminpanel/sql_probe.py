"""Read-only probes of the database under a time limit, shared by the health checks, the post-migration
validation and the log summaries: one runner (a savepoint with a statement timeout) and one walker of
``EXPLAIN (FORMAT JSON)`` plans. Plans are read, never executed (no EXPLAIN ANALYZE)."""

import json
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection, transaction


@contextmanager
def time_limited_cursor(timeout_ms: int) -> Iterator:
    """A cursor inside its own savepoint whose statements are cancelled after `timeout_ms` milliseconds; the
    limit ends with the savepoint, and an error rolls back only what ran inside it."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, true)", [f"{int(timeout_ms)}ms"])
        yield cursor


def plan_nodes(plan: dict) -> list[dict]:
    """Every node of an EXPLAIN (FORMAT JSON) plan, depth first."""
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += plan_nodes(child)
    return nodes


def explain_json(cursor, sql: str, params=None) -> dict:
    """The top plan node of `sql` as PostgreSQL would run it now."""
    cursor.execute("EXPLAIN (FORMAT JSON) " + sql.strip(), params)
    raw = cursor.fetchone()[0]
    document = json.loads(raw) if isinstance(raw, str) else raw
    return document[0]["Plan"]
