"""Issue 4: stored post-migration validation results (runbook section 2.2 and Security & Data Integrity)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("adminpanel", "0007_health_runs_alerts_and_api_clients"),
    ]

    operations = [
        migrations.CreateModel(
            name="ValidationRun",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("run_by_name", models.CharField(blank=True, default="", max_length=150)),
                ("passed", models.BooleanField(default=False)),
                ("duration_ms", models.PositiveIntegerField(default=0)),
                (
                    "run_by",
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
                "db_table": "post_migration_validations",
                "ordering": ["-started_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="ValidationCheck",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("position", models.PositiveSmallIntegerField()),
                ("key", models.CharField(max_length=64)),
                ("section", models.CharField(max_length=64)),
                ("label", models.CharField(max_length=200)),
                ("passed", models.BooleanField()),
                ("value", models.TextField()),
                ("expected", models.CharField(max_length=200)),
                ("detail", models.JSONField(blank=True, default=dict)),
                ("sql", models.TextField()),
                ("error", models.TextField(blank=True, default="")),
                (
                    "run",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="checks",
                        to="adminpanel.validationrun",
                    ),
                ),
            ],
            options={
                "db_table": "post_migration_validation_checks",
                "ordering": ["run", "position"],
                "constraints": [models.UniqueConstraint(fields=("run", "key"), name="validation_check_unique_per_run")],
            },
        ),
    ]
