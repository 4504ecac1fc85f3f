"""Issue 4: backfill runs (progress, pause/resume).

Reserved for that issue's schema changes (placeholders keep parallel work on one linear history)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mappings", "0003_mapping_history_and_api"),
    ]

    operations = []
