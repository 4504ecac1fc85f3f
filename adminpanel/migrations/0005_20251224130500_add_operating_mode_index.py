"""Runbook step 5 (20251224130500_add_operating_mode_index.sql): expression index on settings->>'operatingMode'."""

import django.db.models.fields.json
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("adminpanel", "0004_20251224130400_fix_server_id_foreign_keys_on_delete"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="bar",
            index=models.Index(
                django.db.models.fields.json.KeyTextTransform("operatingMode", "settings"),
                name="idx_bars_operating_mode",
            ),
        ),
    ]
