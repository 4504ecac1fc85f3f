"""Runbook step 6 (20251224130600_robust_backfill_server_id.sql): the backfill's audit table.

The backfill job itself is ``mappings/backfill.py`` (run as a command, a Celery task or from the panel);
this migration creates ``migration_server_id_log``, one row per backfilled sale, consignment or return.
"""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("adminpanel", "0005_20251224130500_add_operating_mode_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="MigrationServerIdLog",
            fields=[
                (
                    "id",
                    models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("sale_id", models.BigIntegerField(blank=True, null=True, unique=True)),
                ("consignment_id", models.BigIntegerField(blank=True, null=True, unique=True)),
                ("return_id", models.BigIntegerField(blank=True, null=True, unique=True)),
                ("server_name", models.TextField(blank=True, null=True)),
                ("resolved_server_id", models.UUIDField(blank=True, null=True)),
                ("fallback_used", models.BooleanField(default=False)),
                ("fallback_reason", models.TextField(blank=True, null=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "bar",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to="adminpanel.bar",
                    ),
                ),
            ],
            options={
                "db_table": "migration_server_id_log",
                "indexes": [
                    models.Index(fields=["created_at"], name="migration_log_created_idx"),
                    models.Index(fields=["fallback_used", "fallback_reason"], name="migration_log_fallback_idx"),
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(
                                ("consignment_id__isnull", True),
                                ("return_id__isnull", True),
                                ("sale_id__isnull", False),
                            ),
                            models.Q(
                                ("consignment_id__isnull", False),
                                ("return_id__isnull", True),
                                ("sale_id__isnull", True),
                            ),
                            models.Q(
                                ("consignment_id__isnull", True),
                                ("return_id__isnull", False),
                                ("sale_id__isnull", True),
                            ),
                            _connector="OR",
                        ),
                        name="migration_log_exactly_one_source",
                    )
                ],
            },
        ),
    ]
