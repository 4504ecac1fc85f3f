"""Issue 5: additions to health runs, results and alerts.

``health_runs.task_id`` (a redelivered Celery task finds its run done), ``health_alert_events`` (each alert change,
stored with the change and notified from there, retried until delivered) and ``health_phase_windows`` (the
runbook's Phase 3 / Day 1 / Week 1 monitoring windows and their verdicts)."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("adminpanel", "0008_post_migration_validation"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="healthrun",
            name="task_id",
            field=models.CharField(blank=True, max_length=64, null=True, unique=True),
        ),
        migrations.CreateModel(
            name="AlertEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
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
                ("notify", models.BooleanField(default=True, help_text="Whether this event is sent by mail/webhook.")),
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
                        on_delete=django.db.models.deletion.CASCADE, related_name="events", to="adminpanel.alert"
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
        migrations.CreateModel(
            name="PhaseWindow",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
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
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("verdict", "pending")), fields=("kind",), name="health_phase_one_running"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("ends_at__gt", models.F("started_at"))), name="health_phase_ends_after"
                    ),
                ],
            },
        ),
    ]
