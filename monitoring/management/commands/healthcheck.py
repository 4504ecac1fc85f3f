"""``manage.py healthcheck``: run the suite now; exit 0 ok, 1 warning, 2 critical (for cron and CI).

As Nagios plugins do, 3 says "unknown" (a check could not run and none is worse, or the database could not be
reached at all: one line, no traceback, since monitoring reads any other exit code as a status); 4 that another
run held the lock.

Before running the checks it asks whether the pipeline that runs them lives (an outside monitor's view, issue 22),
and stops with one line and its own exit code when it does not: 5 the broker (Redis) is unreachable, 6 no Celery
worker answered a ping, 7 the last scheduled health run is older than two intervals (beat down, or its runs
failing). `--no-pipeline` skips that (bin/dev up's first run, before the worker starts).
"""

import sys

from django.core.management.base import BaseCommand
from django.db import InterfaceError, OperationalError

from monitoring.health import pipeline, services
from monitoring.models import CheckStatus, HealthRun

EXIT_CODES = {CheckStatus.OK: 0, CheckStatus.UNKNOWN: 3, CheckStatus.WARNING: 1, CheckStatus.CRITICAL: 2}
EXIT_UNREACHABLE = EXIT_CODES[CheckStatus.UNKNOWN]


class Command(BaseCommand):
    help = (
        "Check the pipeline (exit 5 broker down, 6 no worker, 7 checks stale), then run every health check once, "
        "store the run, move alerts; exit 0 ok / 1 warning / 2 critical / 3 unknown / 4 locked."
    )

    def add_arguments(self, parser):
        parser.add_argument("--quiet", action="store_true", help="Print only the overall status.")
        parser.add_argument(
            "--no-pipeline",
            action="store_true",
            help="Skip the broker / worker / beat checks (exit 5 / 6 / 7) and only run the health checks.",
        )
        parser.add_argument("--ping-timeout", type=float, default=2.0, help="Seconds to wait for a worker's pong.")

    def handle(self, *args, quiet=False, no_pipeline=False, ping_timeout=2.0, **options):
        try:
            fault = None if no_pipeline else pipeline.fault(ping_timeout=ping_timeout)
            if fault is not None:
                self.stderr.write(fault.line)
                sys.exit(fault.exit_code)
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
