"""Issue 4: backfill runs (progress, pause/resume).

Reserved for that issue's schema changes: put ALL of that issue's operations for this app here and create no
other migration file in this app (helpers work in parallel; two new leaf migrations in one app break every test run)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mappings", "0003_mapping_history_and_api"),
    ]

    operations = []
