"""Backfill runs (from mappings) and post-migration validations (from adminpanel) move to backfill.

State only: the tables keep their names and rows; adminpanel 0010 and mappings 0005 drop the old state."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def _relabel(apps, old: str, new: str, names: tuple[str, ...]) -> None:
    """Move the content types (and so their permissions and admin log entries) with the models."""
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in names:
        if not content_type.objects.filter(app_label=new, model=model).exists():
            content_type.objects.filter(app_label=old, model=model).update(app_label=new)


def _forward(apps, schema_editor):
    _relabel(apps, "adminpanel", "backfill", ("validationrun", "validationcheck"))
    _relabel(apps, "mappings", "backfill", ("backfillrun",))


def _backward(apps, schema_editor):
    _relabel(apps, "backfill", "adminpanel", ("validationrun", "validationcheck"))
    _relabel(apps, "backfill", "mappings", ("backfillrun",))


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("adminpanel", "0009_health_checks_extensions"),
        ("mappings", "0004_backfill_runs"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ValidationRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
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
                    name="BackfillRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
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
                                choices=[
                                    ("command", "Management command"),
                                    ("panel", "Panel"),
                                    ("task", "Celery task"),
                                ],
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
                            models.BigIntegerField(
                                default=0, help_text="Last primary key of the current phase's table done."
                            ),
                        ),
                        ("configured_batch_size", models.PositiveIntegerField()),
                        ("batch_size", models.PositiveIntegerField(help_text="Current size; halved after a timeout.")),
                        (
                            "rows_total",
                            models.BigIntegerField(
                                default=0, help_text="Rows with server_id NULL and no log row at start."
                            ),
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
                migrations.CreateModel(
                    name="ValidationCheck",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
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
                                to="backfill.validationrun",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "post_migration_validation_checks",
                        "ordering": ["run", "position"],
                        "constraints": [
                            models.UniqueConstraint(fields=("run", "key"), name="validation_check_unique_per_run")
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(_forward, _backward),
    ]
