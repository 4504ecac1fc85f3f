"""A database created and filled by the layout before the apps were split upgrades in place.

``tests/fixtures/pre_split.sql.gz`` was dumped from a database that the previous layout (commit ad1b975, where
health runs, alerts and validations lived in adminpanel and backfill runs in mappings) migrated and filled:
demo seed, a health run with alerts, a backfill, a validation, a phase window. It is restored into a scratch
database, migrated by this code, and then every row must still be there and the pages must answer.
Rebuild the fixture with ``tests/fixtures/make_pre_split_dump.sh``.
"""

import gzip
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "pre_split.sql.gz"
# Tables whose rows the upgrade itself may add to (its own migration records).
# Rows the upgrade adds: its own migrations, and the content types and permissions of models added since.
GROWS = {"django_migrations", "django_content_type", "auth_permission"}
PAGES = ["/", "/backfill/", "/logs/migration/", "/logs/audit/", "/validation/", "/monitoring/alerts/", "/rollout/"]

PAGE_CHECK = """
import json, sys
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()  # the test client's host name is allowed
from adminpanel.models import User
from backfill.models import BackfillRun, ValidationRun
from monitoring.models import Alert, HealthRun
from monitoring.services import run_health_checks

client = Client()
client.force_login(User.objects.get(username="admin"))
statuses = {path: client.get(path).status_code for path in json.loads(sys.argv[1])}
run = HealthRun.objects.order_by("pk").first()
statuses[f"/monitoring/runs/{run.pk}/"] = client.get(f"/monitoring/runs/{run.pk}/").status_code
validation = ValidationRun.objects.first()
statuses[f"/validation/{validation.pk}/"] = client.get(f"/validation/{validation.pk}/").status_code
models = {
    "health_runs": HealthRun.objects.count(),
    "alerts": Alert.objects.count(),
    "backfill_runs": BackfillRun.objects.count(),
    "validations": ValidationRun.objects.count(),
}
new_run = run_health_checks(trigger="manual")
print(json.dumps({"statuses": statuses, "models": models, "new_run_checks": new_run.results.count() if new_run else 0}))
"""


def _connect(dbname: str, **params):
    db = settings.DATABASES["default"]
    return psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], password=db.get("PASSWORD") or None, dbname=dbname, **params
    )


def _psql() -> str:
    found = shutil.which("psql") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))), None)
    assert found, "psql is needed to restore the fixture (bin/dev installs PostgreSQL)"
    return str(found)


def _row_counts(dbname: str) -> dict[str, int]:
    with _connect(dbname) as conn:
        tables = [
            name
            for (name,) in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
            ).fetchall()
        ]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}  # noqa: S608


@pytest.fixture
def old_database():
    """A scratch database holding the pre-split fixture (without the superuser-only extension statement)."""
    name = f"upgrade_{uuid.uuid4().hex[:10]}"
    with _connect("postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        db = settings.DATABASES["default"]
        with gzip.open(FIXTURE, "rt", encoding="utf-8") as dump:
            sql = "".join(line for line in dump if "EXTENSION" not in line)
        subprocess.run(  # noqa: S603
            [
                _psql(),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                db["HOST"],
                "-p",
                str(db["PORT"]),
                "-U",
                db["USER"],
                name,
            ],
            input=sql,
            text=True,
            check=True,
            capture_output=True,
            env={**os.environ, "PGPASSWORD": db.get("PASSWORD") or ""},
        )
        yield name
    finally:
        with _connect("postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _manage_env(dbname: str) -> dict:
    db = settings.DATABASES["default"]
    url = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{dbname}"
    return {**os.environ, "DATABASE_URL": url, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "adminpanel.settings"}


def test_a_database_of_the_previous_layout_upgrades_with_every_row_kept_and_the_app_working(old_database):
    before = _row_counts(old_database)
    assert before["health_runs"] >= 1 and before["backfill_runs"] >= 1 and before["post_migration_validations"] >= 1
    with _connect(old_database) as conn:
        applied = {app for (app,) in conn.execute("SELECT DISTINCT app FROM django_migrations").fetchall()}
    assert "monitoring" not in applied and "backfill" not in applied  # really the old layout

    env = _manage_env(old_database)
    migrate = subprocess.run(  # noqa: S603
        [sys.executable, "manage.py", "migrate", "--noinput"], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert migrate.returncode == 0, migrate.stderr

    after = _row_counts(old_database)
    assert set(before) <= set(after)
    kept = {t: (before[t], after[t]) for t in before if t not in GROWS}
    assert all(b == a for b, a in kept.values()), {t: v for t, v in kept.items() if v[0] != v[1]}
    with _connect(old_database) as conn:
        labels = dict(
            conn.execute(
                "SELECT model, app_label FROM django_content_type WHERE model IN "
                "('healthrun', 'alert', 'phasewindow', 'validationrun', 'backfillrun')"
            ).fetchall()
        )
    assert labels == {
        "healthrun": "monitoring",
        "alert": "monitoring",
        "phasewindow": "monitoring",
        "validationrun": "backfill",
        "backfillrun": "backfill",
    }

    check = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PAGE_CHECK, json.dumps(PAGES)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    report = json.loads(check.stdout.strip().splitlines()[-1])
    assert all(status == 200 for status in report["statuses"].values()), report["statuses"]
    assert report["models"] == {
        "health_runs": before["health_runs"],
        "alerts": before["health_alerts"],
        "backfill_runs": before["backfill_runs"],
        "validations": before["post_migration_validations"],
    }
    assert report["new_run_checks"] > 0  # the upgraded database takes new health runs too
