"""``manage.py healthcheck``: run the suite now; exit 0 ok, 1 warning, 2 critical (for cron and CI).

As Nagios plugins do, 3 says "unknown" (a check could not run and none is worse, or the database could not be
reached at all: one line, no traceback, since monitoring reads any other exit code as a status); 4 that another
run held the lock.
"""

import sys

from django.core.management.base import BaseCommand
from django.db import InterfaceError, OperationalError

from monitoring import services
from monitoring.models import CheckStatus, HealthRun

EXIT_CODES = {CheckStatus.OK: 0, CheckStatus.UNKNOWN: 3, CheckStatus.WARNING: 1, CheckStatus.CRITICAL: 2}
EXIT_UNREACHABLE = EXIT_CODES[CheckStatus.UNKNOWN]


class Command(BaseCommand):
    help = "Run every health check once, store the run, move alerts; exit 0 ok / 1 warning / 2 critical."

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Print only the overall status.")

    def handle(self, *args, quiet=False, **options):
        try:
            run = services.run_health_checks(trigger=HealthRun.Trigger.COMMAND)
        except (OperationalError, InterfaceError) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.stderr.write(f"unknown: the database is unreachable, no check ran ({reason})")
            sys.exit(EXIT_UNREACHABLE)
        if run is None:
            self.stderr.write("another health run is in progress; nothing done")
            sys.exit(4)
        if not quiet:
            for result in run.results.order_by("id"):
                shown = result.error or (f"{result.value:g}" if result.value is not None else "—")
                self.stdout.write(f"{result.status:9} {result.check_name:24} {shown}  ({result.threshold})")
        self.stdout.write(f"health run {run.pk}: {run.status} in {run.duration_ms} ms")
        sys.exit(EXIT_CODES[run.status])
