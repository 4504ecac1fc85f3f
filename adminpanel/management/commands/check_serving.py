"""``manage.py check_serving``: refuse to serve when the configured sizes could exhaust PostgreSQL's connections.

`bin/dev up` and `bin/dev serve` run it before starting the web server; exit 0 when the budget fits, 2 when it does
not, 3 when the database cannot be reached to read ``max_connections``.
"""

import sys

from django.core.management.base import BaseCommand
from django.db import OperationalError

from adminpanel.serving import connection_budget


class Command(BaseCommand):
    help = "Check WEB_WORKERS x WEB_THREADS (+ Celery, beat, headroom) against 80 % of PostgreSQL max_connections."

    def add_arguments(self, parser):
        parser.add_argument(
            "--max-connections", type=int, default=None, help="Use this max_connections instead of asking PostgreSQL."
        )

    def handle(self, *args, max_connections=None, **options):
        try:
            budget = connection_budget(max_connections=max_connections)
        except OperationalError as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.stderr.write(f"refusing to serve: cannot read max_connections from PostgreSQL ({first_line})")
            sys.exit(3)
        if not budget.fits:
            self.stderr.write(budget.explain())
            sys.exit(2)
        self.stdout.write(budget.explain())
