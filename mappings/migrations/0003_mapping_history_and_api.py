"""Issue 3: mapping history and the resolution API.

Reserved for that issue's schema changes (placeholders keep parallel work on one linear history)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mappings", "0002_bar_mapping_scope"),
        ("adminpanel", "0007_health_runs_alerts_and_api_clients"),
    ]

    operations = []
