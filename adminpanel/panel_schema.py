"""The panel's side of BarTender's database (DESIGN §1): its own schema, and the reviewed SQL it keeps on the
product's tables for its checks and caches (``product_sql/panel_support.sql``)."""

import re
from pathlib import Path

from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction

SQL_DIR = Path(__file__).resolve().parent / "product_sql"
SUPPORT_REQUIRES = ("20251224130000", "20251224130600")  # server_id (step 1) and the backfill's log (step 6)


def quoted_schema() -> str:
    return '"' + settings.PANEL_SCHEMA + '"'


def ensure_panel_schema(*, connection=default_connection) -> None:
    """Create the panel's schema if missing and make it the first entry of the panel role's search_path in this
    database (what a pooler's server connections start with), and of this connection's."""
    schema = quoted_schema()
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        cursor.execute("SELECT current_database()")
        database = cursor.fetchone()[0].replace('"', '""')
        cursor.execute(f'ALTER ROLE CURRENT_USER IN DATABASE "{database}" SET search_path = {schema}, public')
        cursor.execute(f"SET search_path = {schema}, public")


def support_sql(name: str = "panel_support.sql") -> str:
    return (SQL_DIR / name).read_text().replace("@panel@", quoted_schema())


def support_triggers() -> set[str]:
    """The names of the triggers the panel's reviewed SQL puts on the product's tables (they call functions of the
    panel's schema): a restore of a product backup leaves them out (rollout.backups.restores)."""
    return set(re.findall(r"CREATE TRIGGER (\w+)", support_sql()))


def support_installed(*, connection=default_connection) -> bool:
    """Whether some copy of panel_support.sql is in place (the rollup it has always created exists)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [f"{quoted_schema()}.sales_minute_rollup"])
        return cursor.fetchone()[0]


# The objects each later copy of panel_support.sql added: a copy without one of them is an older one, replaced by
# the current file (add the newest object here whenever the file gains one). A copy whose version function answers
# another number than the file's (a changed function body) is older too.
NEWEST_SUPPORT_OBJECTS = ("migration_log_summary", "server_id_day_counts")


def support_version() -> int:
    """The version the current panel_support.sql declares (its panel_support_version() function)."""
    return int(re.search(r"panel_support_version\(\).*?'SELECT (\d+)'", support_sql(), re.S).group(1))


def support_current(*, connection=default_connection) -> bool:
    """Whether the copy in place is the current panel_support.sql: every object later copies added exists, and its
    version is the file's."""
    schema = quoted_schema()
    names = [f"{schema}.{name}" for name in NEWEST_SUPPORT_OBJECTS]
    with connection.cursor() as cursor:
        cursor.execute("SELECT bool_and(to_regclass(name) IS NOT NULL) FROM unnest(%s::text[]) AS name", [names])
        if not cursor.fetchone()[0]:
            return False
        cursor.execute("SELECT to_regprocedure(%s) IS NOT NULL", [f"{schema}.panel_support_version()"])
        if not cursor.fetchone()[0]:
            return False
        cursor.execute(f"SELECT {schema}.panel_support_version()")  # noqa: S608 (the panel's own schema name)
        return cursor.fetchone()[0] == support_version()


def refresh_panel_support(*, connection=default_connection) -> bool:
    """Replace an older copy of panel_support.sql by the current one (an upgrade); True when it was replaced."""
    if support_installed(connection=connection) and not support_current(connection=connection):
        install_panel_support(connection=connection)
        return True
    return False


def install_panel_support(*, connection=default_connection) -> None:
    """Apply panel_support.sql in one transaction (idempotent: it replaces what an earlier copy left)."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(support_sql())


def remove_panel_support(*, connection=default_connection) -> None:
    """Remove what panel_support.sql put on the product's tables (before a step it depends on is rolled back)."""
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(support_sql("panel_support.down.sql"))


def product_has_server_id(*, connection=default_connection) -> bool:
    """Whether runbook step 1 is in place (``sales.server_id`` exists): before Phase 2 the panel reads and writes
    BarTender's tables as they were, without it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' "
            "AND table_name = 'sales' AND column_name = 'server_id')"
        )
        return cursor.fetchone()[0]
