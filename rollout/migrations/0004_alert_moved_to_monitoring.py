"""RolloutEvent.alert points at monitoring.Alert (the same health_alerts table): state only."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0001_models_moved_from_adminpanel"),
        ("rollout", "0003_flag_change_notifications"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="rolloutevent",
                    name="alert",
                    field=models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="monitoring.alert",
                    ),
                ),
            ],
        ),
    ]
