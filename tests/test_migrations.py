"""The runbook's six migrations: in its order, each one applied and reversed on a real database."""

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from adminpanel import runbook_sql

RUNBOOK_ORDER = [
    ("adminpanel", "0002_20251224130000_add_server_id_to_sales_consignments_returns"),
    ("mappings", "0001_20251224130100_add_server_name_mappings_table"),
    ("adminpanel", "0003_20251224130300_add_simplified_mode_sale_creation_policy"),
    ("adminpanel", "0004_20251224130400_fix_server_id_foreign_keys_on_delete"),
    ("adminpanel", "0005_20251224130500_add_operating_mode_index"),
    ("adminpanel", "0006_20251224130600_robust_backfill_server_id"),
]


def _scalar(sql):
    with connection.cursor() as cursor:
        cursor.execute(sql)
        row = cursor.fetchone()
    return row[0] if row else None


def _state():
    """What each runbook step leaves behind, read from the catalog."""
    return {
        "server_id": _scalar(
            "SELECT count(*) FROM information_schema.columns WHERE column_name = 'server_id' "
            "AND table_name IN ('sales', 'consignments', 'returns')"
        ),
        "mappings_table": _scalar("SELECT to_regclass('server_name_mappings') IS NOT NULL"),
        "policies": _scalar("SELECT count(*) FROM pg_policies WHERE tablename IN ('sales', 'consignments', 'returns')"),
        "set_null": _scalar(
            "SELECT count(*) FROM information_schema.referential_constraints "
            "WHERE constraint_name LIKE '%server_id_fkey' AND delete_rule = 'SET NULL'"
        ),
        "index": _scalar("SELECT to_regclass('idx_bars_operating_mode') IS NOT NULL"),
        "log_table": _scalar("SELECT to_regclass('migration_server_id_log') IS NOT NULL"),
    }


BEFORE = {"server_id": 0, "mappings_table": False, "policies": 0, "set_null": 0, "index": False, "log_table": False}
AFTER_STEP = [
    {"server_id": 3},
    {"mappings_table": True},
    {"policies": 15},
    {"set_null": 3},
    {"index": True},
    {"log_table": True},
]


def test_the_migration_plan_applies_the_runbook_steps_in_the_runbook_order(db):
    executor = MigrationExecutor(connection)
    targets = executor.loader.graph.leaf_nodes()
    plan = [(m.app_label, m.name) for m, _ in executor.migration_plan(targets, clean_start=True)]
    positions = [plan.index(step) for step in RUNBOOK_ORDER]
    assert positions == sorted(positions)


@pytest.mark.django_db(transaction=True)
def test_each_runbook_migration_applies_and_reverses_in_turn():
    try:
        call_command("migrate", "adminpanel", "0001_initial", verbosity=0)
        assert _state() == BEFORE
        expected = dict(BEFORE)
        for (app, name), change in zip(RUNBOOK_ORDER, AFTER_STEP, strict=True):
            call_command("migrate", app, name, verbosity=0)
            expected.update(change)
            assert _state() == expected, f"after {name}"
        # The runbook's own verification of step 4, corrected, now answers SET NULL.
        with connection.cursor() as cursor:
            cursor.execute(runbook_sql.STEP4_FK_ON_DELETE_FIXED)
            assert cursor.fetchall() == [("sales_server_id_fkey", "SET NULL")]
        for (app, name), change in reversed(list(zip(RUNBOOK_ORDER, AFTER_STEP, strict=True))):
            previous = _previous(app, name)
            call_command("migrate", app, previous, verbosity=0)
            for key in change:
                expected[key] = BEFORE[key]
            assert _state() == expected, f"after reversing {name}"
    finally:
        call_command("migrate", verbosity=0)
    assert _state() == {**BEFORE, **{k: v for change in AFTER_STEP for k, v in change.items()}}


def _previous(app: str, name: str) -> str:
    number = int(name[:4])
    if app == "mappings" and number == 1:
        return "zero"
    loader = MigrationExecutor(connection).loader
    return next(n for (a, n) in loader.disk_migrations if a == app and n.startswith(f"{number - 1:04d}_"))


def test_the_models_and_the_migrations_agree(db):
    """`makemigrations --check` exits non-zero when a model change has no migration."""
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
