"""Issue 4: backfill runs (keyset cursor, counters, pause/resume) for the server_id backfill."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("mappings", "0003_mapping_history_and_api"),
        ("adminpanel", "0007_health_runs_alerts_and_api_clients"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BackfillRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("running", "Running"),
                            ("paused", "Paused"),
                            ("finished", "Finished"),
                            ("failed", "Failed"),
                        ],
                        default="running",
                        max_length=16,
                    ),
                ),
                ("dry_run", models.BooleanField(default=False)),
                (
                    "started_via",
                    models.CharField(
                        choices=[("command", "Management command"), ("panel", "Panel"), ("task", "Celery task")],
                        default="command",
                        max_length=16,
                    ),
                ),
                (
                    "phase",
                    models.CharField(
                        choices=[
                            ("sales", "Sales"),
                            ("consignments", "Consignments"),
                            ("returns", "Returns"),
                            ("done", "Done"),
                        ],
                        default="sales",
                        max_length=16,
                    ),
                ),
                (
                    "last_id",
                    models.BigIntegerField(default=0, help_text="Last primary key of the current phase's table done."),
                ),
                ("configured_batch_size", models.PositiveIntegerField()),
                ("batch_size", models.PositiveIntegerField(help_text="Current size; halved after a timeout.")),
                (
                    "rows_total",
                    models.BigIntegerField(default=0, help_text="Rows with server_id NULL and no log row at start."),
                ),
                ("rows_done", models.BigIntegerField(default=0)),
                (
                    "resolved_directly",
                    models.BigIntegerField(default=0, help_text="By mapping (returns: by their sale)."),
                ),
                ("resolved_by_fallback", models.BigIntegerField(default=0)),
                ("unresolved", models.BigIntegerField(default=0)),
                ("failed_rows", models.BigIntegerField(default=0)),
                ("reason_counts", models.JSONField(blank=True, default=dict)),
                ("batches", models.PositiveIntegerField(default=0)),
                ("timeouts", models.PositiveIntegerField(default=0)),
                ("longest_batch_ms", models.PositiveIntegerField(default=0)),
                (
                    "active_seconds",
                    models.FloatField(default=0.0, help_text="Time spent in batches (for rate and ETA)."),
                ),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                ("error", models.TextField(blank=True, default="")),
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
                (
                    "started_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "backfill_runs",
                "ordering": ["-started_at", "-id"],
                "constraints": [
                    models.UniqueConstraint(
                        models.Value(True),
                        condition=models.Q(("status__in", ["running", "paused"])),
                        name="backfill_runs_one_active",
                    )
                ],
            },
        ),
    ]
