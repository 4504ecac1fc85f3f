"""Phase 2 run by the panel (issue 20, DESIGN §1): the runbook's six migration files applied to the Supabase-shaped
stand-in in the runbook's order, each verified and recorded as the Supabase CLI records it, undone in reverse; and
the panel's own migrations never touching BarTender's tables."""

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.urls import reverse

from adminpanel.models import PanelEvent
from adminpanel.panel_schema import support_installed
from backfill.models import MigrationStepRun
from backfill.phase2 import runner
from backfill.phase2 import services as phase2
from backfill.phase2.steps import STEPS

ROOT = Path(__file__).resolve().parent.parent


def _scalar(sql, params=None):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _state():
    """What each runbook step leaves behind, read from the catalog."""
    return {
        "server_id": _scalar(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' "
            "AND column_name = 'server_id' AND table_name IN ('sales', 'consignments', 'returns')"
        ),
        "mappings_table": _scalar("SELECT to_regclass('public.server_name_mappings') IS NOT NULL"),
        "simplified_policies": _scalar("SELECT count(*) FROM pg_policies WHERE policyname LIKE '%simplified%'"),
        "set_null": _scalar(
            "SELECT count(*) FROM information_schema.referential_constraints "
            "WHERE constraint_name LIKE '%server_id_fkey' AND delete_rule = 'SET NULL'"
        ),
        "index": _scalar("SELECT to_regclass('public.idx_bars_operating_mode') IS NOT NULL"),
        "log_table": _scalar("SELECT to_regclass('public.migration_server_id_log') IS NOT NULL"),
    }


BEFORE = {
    "server_id": 0, "mappings_table": False, "simplified_policies": 0, "set_null": 0, "index": False,
    "log_table": False,
}  # fmt: skip
AFTER_STEP = [
    {"server_id": 3},
    {"mappings_table": True},
    {"simplified_policies": 3},
    {"set_null": 3},
    {"index": True},
    {"log_table": True},
]


def test_every_step_rolls_back_in_reverse_order_and_applies_again_verified(db, product_user):
    """Inside the test's transaction (PostgreSQL's DDL is transactional): undo 6 … 1, then apply 1 … 6."""
    actor = product_user
    expected = dict(BEFORE)
    for change in AFTER_STEP:
        expected.update(change)
    assert _state() == expected
    for step in reversed(STEPS):
        run = phase2.rollback_migration(version=step.version, actor=actor, reason="test")
        assert run.passed, run.error
        assert step.version not in runner.applied_versions()
    assert _state() == BEFORE
    assert not support_installed()
    state = dict(BEFORE)
    for step, change in zip(STEPS, AFTER_STEP, strict=True):
        run = phase2.apply_migration(version=step.version, actor=actor)
        state.update(change)
        assert run.passed and (run.verification["rows"] or step.number == 6), run.error
        assert _state() == state
        assert len(run.sha256) == 64 and run.actor == actor
    assert support_installed()  # the panel's reviewed SQL came back once steps 1 and 6 were in place
    recorded = dict(_fetch("SELECT version, name FROM supabase_migrations.schema_migrations"))
    assert recorded == {step.version: step.name for step in STEPS}
    assert PanelEvent.objects.filter(action="phase2.apply").count() == 6
    assert PanelEvent.objects.filter(action="phase2.rollback").count() == 6


def _fetch(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def test_steps_run_only_in_the_runbook_order_and_never_twice(db, product_user):
    with pytest.raises(phase2.Phase2Error, match="applied already"):
        phase2.apply_migration(version=STEPS[0].version, actor=product_user)
    with pytest.raises(phase2.Phase2Error, match="reverse order"):
        phase2.rollback_migration(version=STEPS[2].version, actor=product_user)
    phase2.rollback_migration(version=STEPS[5].version, actor=product_user)
    phase2.rollback_migration(version=STEPS[4].version, actor=product_user)
    with pytest.raises(phase2.Phase2Error, match="Step 5 must be applied first"):
        phase2.apply_migration(version=STEPS[5].version, actor=product_user)


def test_a_step_recorded_by_someone_else_shows_as_applied_outside_the_panel(db):
    states = {s["step"].number: s["state"] for s in phase2.step_states()}
    # The test database's steps were applied by its set-up, not by a person through the panel.
    assert set(states.values()) == {"applied_outside"}


def test_a_failed_verification_is_recorded_and_stops_phase_2_on_the_page(db, client_for, product_user):
    """Step 5 expects exactly one operating-mode index: a second one made by hand fails its verification."""
    product_user.user_permissions.add(_perm())
    for step in (STEPS[5], STEPS[4]):
        phase2.rollback_migration(version=step.version, actor=product_user)
    with connection.cursor() as cursor:
        cursor.execute("CREATE INDEX bars_operating_mode_by_hand ON bars ((settings->>'operatingMode'))")
    run = phase2.apply_migration(version=STEPS[4].version, actor=product_user)
    assert not run.passed and len(run.verification["rows"]) == 2
    page = client_for(product_user).get(reverse("rollout:phase2")).content.decode()
    assert 'id="validation-failed"' in page and "STOP the deployment." in page
    assert 'id="apply-next"' not in page  # Phase 2 stops: step 6 is not offered
    cockpit = client_for(product_user).get(reverse("home")).content.decode()
    assert 'id="step-migrations" data-state="failed"' in cockpit


def _perm():
    from django.contrib.auth.models import Permission

    return Permission.objects.get(content_type__app_label="rollout", codename="apply_migration")


def test_the_page_applies_and_rolls_back_only_for_a_holder_of_apply_migration(db, client_for, product_user):
    client = client_for(product_user)
    last = STEPS[-1]
    refused = client.post(reverse("rollout:phase2_rollback"), {"version": last.version, "reason": "try"})
    assert refused.status_code == 403
    assert last.version in runner.applied_versions() and not MigrationStepRun.objects.exists()
    page = client.get(reverse("rollout:phase2")).content.decode()
    assert "rollout.apply_migration" in page and 'id="rollback-last"' not in page

    product_user.user_permissions.add(_perm())
    client = client_for(type(product_user).objects.get(pk=product_user.pk))
    no_reason = client.post(reverse("rollout:phase2_rollback"), {"version": last.version, "reason": " "})
    assert no_reason.status_code == 302 and last.version in runner.applied_versions()
    client.post(reverse("rollout:phase2_rollback"), {"version": last.version, "reason": "step 6 misbehaved"})
    assert last.version not in runner.applied_versions()
    page = client.get(reverse("rollout:phase2")).content.decode()
    assert 'id="step-6" data-state="not_applied"' in page and 'id="apply-blocked"' in page
    # A passed dry run of this very file (tests/test_restores.py runs real ones) opens the step.
    MigrationStepRun.objects.create(version=last.version, step_number=6, action="dry_run", passed=True,
                                    sha256=last.read()[1])  # fmt: skip
    page = client.get(reverse("rollout:phase2")).content.decode()
    assert 'id="apply-next"' in page
    client.post(reverse("rollout:phase2_apply"), {"version": last.version})
    assert last.version in runner.applied_versions()
    assert MigrationStepRun.objects.filter(action="apply", version=last.version, passed=True).exists()
    bad = client.post(reverse("rollout:phase2_apply"), {"version": "nonsense"})
    assert bad.status_code == 404


def test_support_reads_the_page_and_a_manager_may_not(db, client_for, support_user, manager):
    assert client_for(support_user).get(reverse("rollout:phase2")).status_code == 200
    assert client_for(manager).get(reverse("rollout:phase2")).status_code in (403, 404)


def test_no_panel_table_holds_a_foreign_key_constraint_into_the_product(db):
    rows = _fetch(
        f"""
        SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text
        FROM pg_constraint c
        JOIN pg_class src ON src.oid = c.conrelid JOIN pg_namespace ns ON ns.oid = src.relnamespace
        JOIN pg_class dst ON dst.oid = c.confrelid JOIN pg_namespace nd ON nd.oid = dst.relnamespace
        WHERE c.contype = 'f' AND ns.nspname = '{settings.PANEL_SCHEMA}' AND nd.nspname <> '{settings.PANEL_SCHEMA}'
        """
    )
    assert rows == []


def test_the_panel_keeps_its_tables_in_its_own_schema(db):
    public = {row[0] for row in _fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    assert public == {
        "bars", "bar_members", "sales", "consignments", "returns", "audit_logs", "server_name_mappings",
        "migration_server_id_log",
    }  # fmt: skip
    panel = {row[0] for row in _fetch(f"SELECT tablename FROM pg_tables WHERE schemaname = '{settings.PANEL_SCHEMA}'")}
    assert {"django_migrations", "accounts", "panel_events", "feature_flags", "health_runs"} <= panel


# --- migrate leaves BarTender's schema untouched ------------------------------------------------------------------


def _libpq(dbname):
    db = settings.DATABASES["default"]
    return {
        "host": db["HOST"] or "127.0.0.1", "port": db["PORT"] or "5432", "user": db["USER"],
        "password": db.get("PASSWORD") or None, "dbname": dbname,
    }  # fmt: skip


def _catalogue(dbname) -> str:
    from rollout.backups.dumps import pg_tool

    params = _libpq(dbname)
    env = {**os.environ, "PGPASSWORD": params["password"] or ""}
    dump = subprocess.run(  # noqa: S603
        [pg_tool("pg_dump"), "--schema-only", "--no-owner", "-h", params["host"], "-p", str(params["port"]),
         "-U", params["user"], "-n", "public", "-n", "auth", "-n", "supabase_migrations", dbname],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return "\n".join(line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


def _checksums(conn) -> dict:
    tables = [
        "auth.users", "public.bars", "public.bar_members", "public.sales", "public.consignments", "public.returns",
        "public.audit_logs", "public.server_name_mappings", "public.migration_server_id_log",
        "supabase_migrations.schema_migrations",
    ]  # fmt: skip
    sums = {}
    for table in tables:
        rows = conn.execute(f"SELECT t::text FROM {table} t ORDER BY t::text").fetchall()  # noqa: S608
        sums[table] = (len(rows), hashlib.sha256("\n".join(r[0] for r in rows).encode()).hexdigest())
    return sums


@pytest.mark.django_db(transaction=True)
def test_migrate_on_a_database_holding_the_product_leaves_every_product_object_and_row_untouched():
    name = f"catalogue_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(**_libpq("postgres"), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(**_libpq(name), autocommit=True) as conn:
            conn.execute((ROOT / "bartender" / "standin.sql").read_text())
            for step in STEPS:
                sql, _ = step.read()
                conn.execute(sql)
                conn.execute(
                    "INSERT INTO supabase_migrations.schema_migrations (version, name) VALUES (%s, %s)",
                    [step.version, step.name],
                )
            conn.execute(
                "INSERT INTO auth.users (id, email) VALUES ('00000000-0000-0000-0000-000000000001', 'a@b.c');"
                "INSERT INTO bars (id, name) VALUES ('00000000-0000-0000-0000-0000000000b1', 'Bar');"
                "INSERT INTO bar_members (bar_id, user_id, role) VALUES "
                "('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-000000000001', 'server');"
                "INSERT INTO sales (bar_id, created_by, server_id, amount) VALUES "
                "('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-000000000001', "
                "'00000000-0000-0000-0000-000000000001', 12);"
            )
            before = (_catalogue(name), _checksums(conn))
        db = settings.DATABASES["default"]
        url = f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{name}"
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "x" * 50}
        migrate = subprocess.run(  # noqa: S603
            [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v", "0"],
            env=env, capture_output=True, text=True, cwd=ROOT,
        )  # fmt: skip
        assert migrate.returncode == 0, migrate.stderr[-2000:]
        with psycopg.connect(**_libpq(name), autocommit=True) as conn:
            after = (_catalogue(name), _checksums(conn))
            panel_tables = conn.execute(
                "SELECT count(*) FROM pg_tables WHERE schemaname = %s", [settings.PANEL_SCHEMA]
            ).fetchone()[0]
        assert after[1] == before[1]
        assert after[0] == before[0]
        assert panel_tables > 30
    finally:
        with psycopg.connect(**_libpq("postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
