"""Issue 6: rollout stages, gates, audit timeline and deployment records.

Reserved for that issue's schema changes (placeholders keep parallel work on one linear history)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("rollout", "0001_initial"),
        ("adminpanel", "0007_health_runs_alerts_and_api_clients"),
    ]

    operations = []
