import os

from django.core.management.base import BaseCommand

from demo.deployment import ensure_demo_logins


class Command(BaseCommand):
    help = "Create (or reset) one demo login per role and print them."

    def add_arguments(self, parser):
        parser.add_argument("--password", default=os.environ.get("DEMO_PASSWORD", "bartender-demo"))

    def handle(self, *args, password, **options):
        logins = ensure_demo_logins(password=password)
        self.stdout.write(self.style.SUCCESS(f"Demo logins (password for all: {password})"))
        for login in logins:
            self.stdout.write(f"  {login.username:<10} {login.role:<14} {login.can}")
