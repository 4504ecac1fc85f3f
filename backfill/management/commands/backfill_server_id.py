"""`manage.py backfill_server_id`: the runbook's step 6 backfill, driven in this process.

Run it again after an interruption: it carries on the live run of the same scope from its last committed
batch.
"""

import uuid

from django.core.management.base import BaseCommand, CommandError

from adminpanel.models import Bar
from backfill.backfill import BackfillError, run_backfill


class Command(BaseCommand):
    help = "Backfill server_id on sales, consignments and returns, logging one row per row touched."

    def add_arguments(self, parser):
        parser.add_argument("--bar", help="Limit the run to one bar (its UUID).")
        parser.add_argument("--dry-run", action="store_true", help="Resolve and count, write nothing.")
        parser.add_argument("--batch-size", type=int, help="Rows per batch (default BACKFILL_BATCH_SIZE).")
        parser.add_argument("--progress-every", type=int, default=50, help="Print progress every N batches.")

    def handle(self, *args, **options):
        bar = None
        if options["bar"]:
            try:
                bar = Bar.objects.get(pk=uuid.UUID(options["bar"]))
            except (ValueError, Bar.DoesNotExist) as exc:
                raise CommandError(f"no bar with id {options['bar']!r}") from exc
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        every = max(1, options["progress_every"])
        seen = {"batches": 0}

        def report(run):
            seen["batches"] += 1
            if seen["batches"] % every == 0 and options["verbosity"] >= 1:
                run.refresh_from_db()
                self.stdout.write(
                    f"  {run.phase}: {run.rows_done}/{run.rows_total} rows, {run.rows_per_second} rows/s, "
                    f"{run.fallbacks} fallbacks, batch size {run.batch_size}"
                )

        try:
            run = run_backfill(bar=bar, dry_run=options["dry_run"], batch_size=options["batch_size"], on_batch=report)
        except BackfillError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"backfill run {run.pk}: {run.status}{' (dry run)' if run.dry_run else ''}; "
            f"{run.rows_done} rows in {run.batches} batches, {run.rows_per_second} rows/s; "
            f"{run.resolved_directly} resolved directly, {run.resolved_by_fallback} by fallback, "
            f"{run.unresolved} left NULL, {run.failed_rows} failed; longest batch {run.longest_batch_ms} ms"
        )
        if run.reason_counts:
            for reason, count in sorted(run.reason_counts.items(), key=lambda item: -item[1]):
                self.stdout.write(f"  {reason}: {count}")
        if run.status == run.Status.PAUSED:
            self.stdout.write("the run is paused; resume it from the panel or run this command again after resuming")
