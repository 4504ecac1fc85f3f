"""Issue 15: a backfill run walks each phase as disjoint key ranges, each with its own resumable cursor, so the
Celery workers drive them in parallel (one range per worker process)."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("backfill", "0001_models_moved_from_adminpanel_and_mappings"),
    ]

    operations = [
        migrations.AddField(
            model_name="backfillrun",
            name="ranges",
            field=models.PositiveSmallIntegerField(
                default=1, help_text="Disjoint key ranges per phase, each with its own cursor, driven in parallel."
            ),
        ),
        migrations.CreateModel(
            name="BackfillRange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "phase",
                    models.CharField(
                        choices=[
                            ("sales", "Sales"),
                            ("consignments", "Consignments"),
                            ("returns", "Returns"),
                            ("done", "Done"),
                        ],
                        max_length=16,
                    ),
                ),
                ("position", models.PositiveSmallIntegerField()),
                ("after_id", models.BigIntegerField(help_text="Exclusive lower bound.")),
                (
                    "upper_id",
                    models.BigIntegerField(
                        blank=True, help_text="Inclusive upper bound; none for the last.", null=True
                    ),
                ),
                ("last_id", models.BigIntegerField(help_text="Last primary key of this range done.")),
                ("done", models.BooleanField(default=False)),
                ("batches", models.PositiveIntegerField(default=0)),
                ("rows_done", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="key_ranges",
                        to="backfill.backfillrun",
                    ),
                ),
            ],
            options={
                "db_table": "backfill_run_ranges",
                "ordering": ["run", "phase", "position"],
                "constraints": [
                    models.UniqueConstraint(fields=("run", "phase", "position"), name="backfill_range_unique_position")
                ],
            },
        ),
    ]
