"""Create the Supabase-shaped stand-in for BarTender (development, tests, demo, benches) in the configured database,
unless BarTender's tables are there already; `--phase2` also applies the runbook's six migrations not applied yet
(benches that need the product as it is after Phase 2). Meant for the local cluster that `bin/dev` starts, never for
a real BarTender database (there it would find the product's tables and create nothing)."""

from django.core.management.base import BaseCommand

from adminpanel.standin import create_standin
from backfill.phase2.runner import apply_all


class Command(BaseCommand):
    help = "Create the stand-in BarTender schema (auth, public, supabase_migrations) as before Mode Switching."

    def add_arguments(self, parser):
        parser.add_argument("--phase2", action="store_true", help="then apply the runbook's six migrations")

    def handle(self, *args, phase2=False, **options):
        if create_standin():
            self.stdout.write("Stand-in BarTender created (before Mode Switching: no server_id yet).")
        else:
            self.stdout.write("BarTender's tables are there already: nothing created.")
        if phase2:
            applied = apply_all()
            self.stdout.write(f"{len(applied)} runbook migration(s) applied.")
