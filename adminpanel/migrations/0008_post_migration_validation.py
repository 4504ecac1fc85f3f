"""Issue 4: stored post-migration validation results.

Reserved for that issue's schema changes (placeholders keep parallel work on one linear history)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("adminpanel", "0007_health_runs_alerts_and_api_clients"),
    ]

    operations = []
