"""Apply and undo the runbook's migration steps against BarTender's database (Phase 2, DESIGN §1 and §4d).

Each step runs in one transaction under ``lock_timeout`` / ``statement_timeout`` and is recorded in
``supabase_migrations.schema_migrations`` as the Supabase CLI records it (version = the file's 14-digit prefix), so
a later ``supabase db push`` does not apply it again; a version found there that the panel did not apply is shown
as applied outside the panel and never run twice. The runbook's verification query runs after each step."""

import contextlib
import time
from dataclasses import dataclass, field

import psycopg
from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction

from adminpanel.panel_schema import (
    SUPPORT_REQUIRES,
    install_panel_support,
    remove_panel_support,
    support_current,
    support_installed,
)
from backfill.phase2.steps import BY_VERSION, STEPS, Step


class Phase2Error(Exception):
    """A step that may not run now (order, already applied, not applied), with the reason in words."""


@dataclass
class StepOutcome:
    step: Step
    action: str
    sha256: str = ""
    duration_ms: int = 0
    rows: list = field(default_factory=list)
    columns: list = field(default_factory=list)
    passed: bool = False
    error: str = ""


@contextlib.contextmanager
def _atomic(connection):
    """One transaction on `connection`: a Django connection, or a psycopg one of its own (a scratch database)."""
    if isinstance(connection, psycopg.Connection):
        with connection.transaction():
            yield
    else:
        with transaction.atomic(using=connection.alias):
            yield


def applied_versions(*, connection=default_connection) -> set[str]:
    """Versions recorded in supabase_migrations.schema_migrations (empty when the schema is missing)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('supabase_migrations.schema_migrations') IS NOT NULL")
        if not cursor.fetchone()[0]:
            return set()
        cursor.execute("SELECT version FROM supabase_migrations.schema_migrations")
        return {row[0] for row in cursor.fetchall()}


def next_step(*, connection=default_connection) -> Step | None:
    applied = applied_versions(connection=connection)
    return next((step for step in STEPS if step.version not in applied), None)


def verify(step: Step, *, connection=default_connection) -> StepOutcome:
    """Run the runbook's verification query of `step` and compare it with its expected result."""
    outcome = StepOutcome(step=step, action="verify")
    try:
        with _atomic(connection), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 10000")
            cursor.execute(step.verification_sql)
            outcome.columns = [c.name for c in cursor.description]
            outcome.rows = [tuple(row) for row in cursor.fetchall()]
        outcome.passed = bool(step.passes(outcome.rows))
    except Exception as exc:  # noqa: BLE001 — a verification that cannot run is a failed verification, in words
        outcome.error = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return outcome


def _timeouts(cursor) -> None:
    cursor.execute("SET LOCAL lock_timeout = %s", [f"{int(settings.PHASE2_LOCK_TIMEOUT_MS)}ms"])
    cursor.execute("SET LOCAL statement_timeout = %s", [f"{int(settings.PHASE2_STATEMENT_TIMEOUT_MS)}ms"])


def apply_step(version: str, *, connection=default_connection, support: bool = True) -> StepOutcome:
    """Apply one step in one transaction, record it in schema_migrations, then verify it. Raises Phase2Error when
    it may not run now (an earlier step is missing, or it is recorded already). ``support=False`` (a scratch
    database: the dry run) leaves out the panel's reviewed SQL."""
    step = BY_VERSION.get(version)
    if step is None:
        raise Phase2Error(f"{version} is not one of the runbook's six migrations")
    applied = applied_versions(connection=connection)
    if version in applied:
        raise Phase2Error(f"Step {step.number} ({step.filename}) is applied already; it is never run twice")
    missing = [s for s in STEPS if s.number < step.number and s.version not in applied]
    if missing:
        raise Phase2Error(f"Step {missing[0].number} must be applied first: the runbook's order is fixed")
    sql, sha256 = step.read()
    started = time.monotonic()
    with _atomic(connection), connection.cursor() as cursor:
        _timeouts(cursor)
        cursor.execute(sql)
        cursor.execute(
            "INSERT INTO supabase_migrations.schema_migrations (version, statements, name) VALUES (%s, %s, %s)",
            [step.version, [sql], step.name],
        )
    duration_ms = round((time.monotonic() - started) * 1000)
    if (
        support
        and all(v in applied | {version} for v in SUPPORT_REQUIRES)
        and not support_current(connection=connection)
    ):
        install_panel_support(connection=connection)
    outcome = verify(step, connection=connection)
    outcome.action, outcome.sha256, outcome.duration_ms = "apply", sha256, duration_ms
    return outcome


def rollback_step(version: str, *, connection=default_connection) -> StepOutcome:
    """Undo the last applied step with its down script (reverse order only), remove its record, and verify that
    the runbook's verification no longer passes."""
    step = BY_VERSION.get(version)
    if step is None:
        raise Phase2Error(f"{version} is not one of the runbook's six migrations")
    applied = applied_versions(connection=connection)
    if version not in applied:
        raise Phase2Error(f"Step {step.number} is not applied")
    later = [s for s in STEPS if s.number > step.number and s.version in applied]
    if later:
        raise Phase2Error(f"Step {later[-1].number} must be rolled back first: migrations are undone in reverse order")
    if version in SUPPORT_REQUIRES and support_installed(connection=connection):
        remove_panel_support(connection=connection)
    started = time.monotonic()
    with _atomic(connection), connection.cursor() as cursor:
        _timeouts(cursor)
        cursor.execute(step.down_sql())
        cursor.execute("DELETE FROM supabase_migrations.schema_migrations WHERE version = %s", [step.version])
    duration_ms = round((time.monotonic() - started) * 1000)
    check = verify(step, connection=connection)
    return StepOutcome(
        step=step, action="rollback", duration_ms=duration_ms, rows=check.rows, columns=check.columns,
        passed=not check.passed, error="" if not check.passed else "the step's verification still passes",
    )  # fmt: skip


def apply_all(*, connection=default_connection) -> list[StepOutcome]:
    """Every step not applied yet, in order (the stand-in's bring-up and the test database)."""
    return [apply_step(step.version, connection=connection) for step in STEPS if step.version not in applied_versions(connection=connection)]  # noqa: E501
