from django.core.management.base import BaseCommand, CommandError

from demo.seeding import seed_demo


class Command(BaseCommand):
    help = "Create demo bars, members, mappings, sales, consignments, returns and audit logs (idempotent per seed)."

    def add_arguments(self, parser):
        parser.add_argument("--bars", type=int, default=200)
        parser.add_argument("--sales", type=int, default=50_000)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--days", type=int, default=30)

    def handle(self, *args, bars, sales, seed, days, **options):
        try:
            report = seed_demo(bars=bars, sales=sales, seed=seed, days=days)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not report.bars_created:
            self.stdout.write(f"seed {seed}: all {bars} demo bars already exist; nothing added ({report.seconds}s)")
            return
        self.stdout.write(
            f"seed {seed}: {report.bars_created} bars, {report.users_created} users, {report.mappings_created} "
            f"mappings, {report.sales_created} sales, {report.consignments_created} consignments, "
            f"{report.returns_created} returns, {report.audit_logs_created} audit logs in {report.seconds}s"
        )
        self.stdout.write("  " + ", ".join(f"{k} {v}s" for k, v in report.timings.items()))
