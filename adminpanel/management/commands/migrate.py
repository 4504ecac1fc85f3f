"""``migrate``, preceded by creating the panel's schema (DESIGN §1): Django's own tables (django_migrations first)
must land in PANEL_SCHEMA, never in BarTender's ``public``."""

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections

from adminpanel.panel_schema import ensure_panel_schema


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " The panel's schema (PANEL_SCHEMA) is created first; nothing outside it is touched."

    def handle(self, *args, **options):
        ensure_panel_schema(connection=connections[options["database"]])
        return super().handle(*args, **options)
