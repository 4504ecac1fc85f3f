"""Health runs, results, alerts, alert events and phase windows move from adminpanel to monitoring.

State only: the tables (health_*) keep their names and rows; adminpanel 0010 removes the models from its state."""

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


MOVED = ("healthrun", "checkresult", "alert", "alertevent", "phasewindow")


def _forward(apps, schema_editor):
    _relabel(apps, "adminpanel", "monitoring", MOVED)


def _backward(apps, schema_editor):
    _relabel(apps, "monitoring", "adminpanel", MOVED)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("adminpanel", "0009_health_checks_extensions"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="CheckResult",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("check_name", models.CharField(max_length=64)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("ok", "OK"),
                                    ("warning", "Warning"),
                                    ("critical", "Critical"),
                                    ("unknown", "Unknown"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("value", models.FloatField(blank=True, null=True)),
                        ("threshold", models.CharField(blank=True, default="", max_length=200)),
                        ("detail", models.JSONField(blank=True, default=dict)),
                        ("error", models.TextField(blank=True, default="")),
                        ("duration_ms", models.PositiveIntegerField(blank=True, null=True)),
                    ],
                    options={
                        "db_table": "health_check_results",
                    },
                ),
                migrations.CreateModel(
                    name="Alert",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("check_name", models.CharField(max_length=64)),
                        (
                            "severity",
                            models.CharField(
                                choices=[
                                    ("ok", "OK"),
                                    ("warning", "Warning"),
                                    ("critical", "Critical"),
                                    ("unknown", "Unknown"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "state",
                            models.CharField(
                                choices=[("open", "Open"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved")],
                                default="open",
                                max_length=16,
                            ),
                        ),
                        ("opened_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("escalated_at", models.DateTimeField(blank=True, null=True)),
                        ("resolved_at", models.DateTimeField(blank=True, null=True)),
                        ("acknowledged_at", models.DateTimeField(blank=True, null=True)),
                        ("ack_comment", models.TextField(blank=True, default="")),
                        (
                            "acknowledged_by",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "last_result",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="monitoring.checkresult",
                            ),
                        ),
                        (
                            "opened_by_result",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to="monitoring.checkresult",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "health_alerts",
                        "ordering": ["-opened_at"],
                    },
                ),
                migrations.CreateModel(
                    name="HealthRun",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("finished_at", models.DateTimeField(blank=True, null=True)),
                        (
                            "trigger",
                            models.CharField(
                                choices=[("schedule", "Schedule"), ("manual", "Manual"), ("command", "Command")],
                                default="schedule",
                                max_length=16,
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("ok", "OK"),
                                    ("warning", "Warning"),
                                    ("critical", "Critical"),
                                    ("unknown", "Unknown"),
                                ],
                                default="unknown",
                                max_length=16,
                            ),
                        ),
                        ("duration_ms", models.PositiveIntegerField(blank=True, null=True)),
                        ("task_id", models.CharField(blank=True, max_length=64, null=True, unique=True)),
                        (
                            "triggered_by",
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
                        "db_table": "health_runs",
                        "ordering": ["-started_at"],
                    },
                ),
                migrations.AddField(
                    model_name="checkresult",
                    name="run",
                    field=models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="results", to="monitoring.healthrun"
                    ),
                ),
                migrations.CreateModel(
                    name="PhaseWindow",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("phase3", "Phase 3: 15-minute post-deployment monitor"),
                                    ("day1", "Day 1 after full rollout"),
                                    ("week1", "Week 1 after full rollout"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                        ("ends_at", models.DateTimeField()),
                        (
                            "verdict",
                            models.CharField(
                                choices=[
                                    ("pending", "Running"),
                                    ("passed", "Passed"),
                                    ("failed", "Failed"),
                                    ("inconclusive", "Inconclusive"),
                                ],
                                default="pending",
                                max_length=16,
                            ),
                        ),
                        ("verdict_at", models.DateTimeField(blank=True, null=True)),
                        ("summary", models.JSONField(blank=True, default=dict)),
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
                        "db_table": "health_phase_windows",
                        "ordering": ["-started_at"],
                    },
                ),
                migrations.CreateModel(
                    name="AlertEvent",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[
                                    ("opened", "Opened"),
                                    ("escalated", "Escalated"),
                                    ("resolved", "Resolved"),
                                    ("acknowledged", "Acknowledged"),
                                ],
                                max_length=16,
                            ),
                        ),
                        (
                            "severity",
                            models.CharField(
                                choices=[
                                    ("ok", "OK"),
                                    ("warning", "Warning"),
                                    ("critical", "Critical"),
                                    ("unknown", "Unknown"),
                                ],
                                max_length=16,
                            ),
                        ),
                        ("comment", models.TextField(blank=True, default="")),
                        ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                        (
                            "notify",
                            models.BooleanField(default=True, help_text="Whether this event is sent by mail/webhook."),
                        ),
                        (
                            "notified_at",
                            models.DateTimeField(blank=True, help_text="When every channel had it.", null=True),
                        ),
                        (
                            "delivered_to",
                            models.JSONField(blank=True, default=list, help_text="Channels done: a retry skips them."),
                        ),
                        ("attempts", models.PositiveSmallIntegerField(default=0)),
                        ("last_error", models.TextField(blank=True, default="")),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "alert",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="events",
                                to="monitoring.alert",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "health_alert_events",
                        "ordering": ["created_at", "id"],
                        "indexes": [
                            models.Index(
                                condition=models.Q(("notified_at__isnull", True), ("notify", True)),
                                fields=["id"],
                                name="health_alert_event_pending",
                            )
                        ],
                    },
                ),
                migrations.AddIndex(
                    model_name="alert",
                    index=models.Index(fields=["state", "-opened_at"], name="health_alert_state_idx"),
                ),
                migrations.AddConstraint(
                    model_name="alert",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("state", "resolved"), _negated=True),
                        fields=("check_name",),
                        name="health_alert_one_unresolved_per_check",
                    ),
                ),
                migrations.AddIndex(
                    model_name="healthrun",
                    index=models.Index(fields=["-finished_at"], name="health_runs_finished_idx"),
                ),
                migrations.AddIndex(
                    model_name="checkresult",
                    index=models.Index(fields=["check_name", "-run"], name="health_result_check_idx"),
                ),
                migrations.AddConstraint(
                    model_name="checkresult",
                    constraint=models.UniqueConstraint(
                        fields=("run", "check_name"), name="health_result_unique_per_run"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="phasewindow",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("verdict", "pending")), fields=("kind",), name="health_phase_one_running"
                    ),
                ),
                migrations.AddConstraint(
                    model_name="phasewindow",
                    constraint=models.CheckConstraint(
                        condition=models.Q(("ends_at__gt", models.F("started_at"))), name="health_phase_ends_after"
                    ),
                ),
            ],
        ),
        migrations.RunPython(_forward, _backward),
    ]
