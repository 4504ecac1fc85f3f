"""The Supabase-shaped stand-in for BarTender's database, for development, tests and the demo (never for a real
BarTender database): ``bartender/standin.sql`` creates the product as it was before Mode Switching."""

from pathlib import Path

from django.conf import settings
from django.db import connection as default_connection
from django.db import transaction

STANDIN_SQL = Path(settings.BASE_DIR) / "bartender" / "standin.sql"


def standin_exists(*, connection=default_connection) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.bars') IS NOT NULL AND to_regclass('auth.users') IS NOT NULL")
        return cursor.fetchone()[0]


def create_standin(*, connection=default_connection) -> bool:
    """Create the stand-in product in this database unless it is there already; True when it was created."""
    if standin_exists(connection=connection):
        return False
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(STANDIN_SQL.read_text())
    return True
