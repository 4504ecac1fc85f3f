"""Create the Supabase-shaped stand-in for BarTender (development and demo only) in the configured database,
unless BarTender's tables are there already. Never run against a real BarTender database: it would find the
product's tables and do nothing, but it is meant for the local cluster that `bin/dev up` starts."""

from django.core.management.base import BaseCommand

from adminpanel.standin import create_standin


class Command(BaseCommand):
    help = "Create the stand-in BarTender schema (auth, public, supabase_migrations) as before Mode Switching."

    def handle(self, *args, **options):
        if create_standin():
            self.stdout.write("Stand-in BarTender created (before Mode Switching: no server_id yet).")
        else:
            self.stdout.write("BarTender's tables are there already: nothing created.")
