"""Issue 3: mapping history and the resolution API.

Reserved for that issue's schema changes: put ALL of that issue's operations for this app here and create no
other migration file in this app (helpers work in parallel; two new leaf migrations in one app break every test run)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mappings", "0002_bar_mapping_scope"),
        ("adminpanel", "0007_health_runs_alerts_and_api_clients"),
    ]

    operations = []
