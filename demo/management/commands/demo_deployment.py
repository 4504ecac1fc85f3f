from django.core.management.base import BaseCommand

from demo.deployment import ensure_demo_deployment


class Command(BaseCommand):
    help = (
        "Walk the demo deployment to where bin/dev up leaves it: Phase 1 and Phase 2 done by the panel, Phase 3 "
        "waiting (idempotent; run after seed_demo and demo_logins)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="username", default="product", help="the product owner who does it")
        parser.add_argument("--load-test-seconds", type=int, default=5)

    def handle(self, *args, username, load_test_seconds, **options):
        for line in ensure_demo_deployment(username=username, load_test_seconds=load_test_seconds):
            self.stdout.write(f"  {line}")
