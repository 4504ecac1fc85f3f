"""Issue 6: rollout stages, gates, audit timeline and deployment records.

Reserved for that issue's schema changes: put ALL of that issue's operations for this app here and create no
other migration file in this app (helpers work in parallel; two new leaf migrations in one app break every test run)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rollout", "0001_initial"),
        ("adminpanel", "0007_health_runs_alerts_and_api_clients"),
    ]

    operations = []
