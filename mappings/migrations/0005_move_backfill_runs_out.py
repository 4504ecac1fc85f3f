"""BackfillRun now belongs to backfill: drop it from mappings' state only (the table stays)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mappings", "0004_backfill_runs"),
        ("backfill", "0001_models_moved_from_adminpanel_and_mappings"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveConstraint(
                    model_name="backfillrun",
                    name="backfill_runs_one_active",
                ),
                migrations.DeleteModel(
                    name="BackfillRun",
                ),
            ],
        ),
    ]
