"""What every health check shares: its outcome, its thresholds and minimum samples from settings, the small SQL and
arithmetic helpers, and running a query as BarTender's clients do (role ``authenticated`` with ``request.jwt.claims``
set transaction-locally). ``monitoring.health.health_checks`` and ``monitoring.health.checks_runbook`` both build on it.
"""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, transaction

from monitoring.models import CheckStatus

OK, WARNING, CRITICAL, UNKNOWN = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.CRITICAL, CheckStatus.UNKNOWN
INSUFFICIENT = CheckStatus.INSUFFICIENT


@dataclass
class CheckOutcome:
    name: str
    status: str
    value: float | None = None
    threshold: str = ""
    detail: dict = field(default_factory=dict)
    error: str = ""
    duration_ms: int | None = None


@dataclass(frozen=True)
class Check:
    name: str
    label: str
    func: Callable[..., CheckOutcome]


def threshold(name: str) -> float:
    """The threshold of that name (HEALTH_THRESHOLDS)."""
    return settings.HEALTH_THRESHOLDS[name]


def worst(statuses) -> str:
    """The most severe of the given statuses (ok when there are none); "not enough data" counts as ok, since it
    says nothing is known to be wrong."""
    return CheckStatus.worst(OK if s == INSUFFICIENT else s for s in statuses)


NOT_CONFIGURED = "not configured"


def not_configured(outcome) -> bool:
    """An outcome of a check this installation has not set up (e.g. no PROMETHEUS_URL): unknown, and says so."""
    return outcome.status == UNKNOWN and (outcome.error or "").startswith(NOT_CONFIGURED)


def min_sample(name: str) -> int:
    """The sample a rate check needs before it judges anything (HEALTH_MIN_SAMPLES; 0 = none declared)."""
    return int(settings.HEALTH_MIN_SAMPLES.get(name, 0))


def counted(n: int, singular: str, plural: str | None = None) -> str:
    """ "1 sale", "1,234 sales"."""
    return f"{n:,} {singular if n == 1 else plural or singular + 's'}"


def on_sample(outcome: "CheckOutcome", *, sample: int, sample_text: str, unit: str) -> "CheckOutcome":
    """Judge a rate check only on a large enough sample: below the minimum it declares, the outcome becomes
    "not enough data" with no value (a rate over 3 sales is noise, not a figure to act on)."""
    needed = min_sample(outcome.name)
    outcome.detail.update(sample=sample, min_sample=needed, sample_text=sample_text, needed_text=f"{needed:,} {unit}")
    if sample < needed:
        outcome.status, outcome.value = INSUFFICIENT, None
    return outcome


def fetchone(sql: str, params=None) -> tuple:
    """The first row of one statement on the default connection."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def fetchall(sql: str, params=None) -> list[tuple]:
    """Every row of one statement on the default connection."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def pct(part: int, whole: int) -> float | None:
    """part / whole in %, two decimals; None without a whole."""
    return round(part * 100.0 / whole, 2) if whole else None


def above(value, *, critical=None, warning=None) -> str:
    """critical / warning / ok for a value judged "above the line is bad"."""
    if critical is not None and value > critical:
        return CRITICAL
    if warning is not None and value > warning:
        return WARNING
    return OK


class _UndoClientQuery(Exception):
    """Rolls a client query's savepoint back, so its role and JWT claims end with it."""


def jwt_claims(user_id, role: str = "authenticated") -> str:
    """The claims PostgREST puts in ``request.jwt.claims`` for a signed-in Supabase user (auth.uid() reads sub)."""
    return json.dumps({"sub": str(user_id), "role": role, "aud": "authenticated"})


def client_query(cursor, *, role: str, user_id, sql: str, params, timeout_ms: int) -> tuple[float, list[tuple]]:
    """One query as Supabase's clients run it — ``role`` (``authenticated``) with ``request.jwt.claims`` naming
    ``user_id``, everything transaction-local (pooler-safe) — in a savepoint that is always rolled back: (its ms, its
    rows). A statement cut by ``timeout_ms`` raises (QueryCanceled, sqlstate 57014)."""
    result: list[tuple[float, list[tuple]]] = []
    try:
        with transaction.atomic():
            cursor.execute(
                "SELECT set_config('role', %s, true), set_config('request.jwt.claims', %s, true), "
                "set_config('statement_timeout', %s, true)",
                [role, jwt_claims(user_id, role), f"{timeout_ms}ms"],
            )
            started = time.perf_counter()
            cursor.execute(sql, params)
            rows = cursor.fetchall()
            result.append((round((time.perf_counter() - started) * 1000, 2), rows))
            raise _UndoClientQuery
    except _UndoClientQuery:
        pass
    return result[0]


def client_role_missing(role: str) -> str:
    """Why the panel cannot act as the clients' database role ``role`` (missing, or not granted to it), or ""."""
    (member,) = fetchone(
        "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s) AND pg_has_role(current_user, "
        "(SELECT oid FROM pg_roles WHERE rolname = %s), 'MEMBER')",
        [role, role],
    )
    if member:
        return ""
    return (
        f"the database role {role!r} (RLS_PROBE_ROLE) does not exist or is not granted to the panel's user: "
        f"GRANT {role} TO the panel's role (Supabase's clients run as it)"
    )
