"""Issue 13: the opt-in autopilot's state on the rollout row, its timeline kinds, the outbox that notifies the
rollout's automatic steps like alerts, and the stored figures of the latest cohort comparison."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rollout", "0004_alert_moved_to_monitoring"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="rolloutstate",
            name="autopilot_batch_size",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="rolloutstate",
            name="autopilot_enabled",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="rolloutstate",
            name="autopilot_last_tick_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="rolloutstate",
            name="autopilot_note",
            field=models.CharField(blank=True, default="", max_length=1000),
        ),
        migrations.AddField(
            model_name="rolloutstate",
            name="autopilot_owner",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="rolloutstate",
            name="autopilot_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AlterField(
            model_name="rolloutevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("flag_flip", "Flag flipped"),
                    ("allow_list", "Allow-list changed"),
                    ("stage_advance", "Stage advanced"),
                    ("stage_pause", "Rollout paused"),
                    ("stage_resume", "Rollout resumed"),
                    ("gate_override", "Gate overridden"),
                    ("stage_rollback", "Stage rolled back"),
                    ("kill_switch", "Kill switch"),
                    ("auto_rollback", "Automatic rollback"),
                    ("record", "Deployment record"),
                    ("autopilot_on", "Autopilot turned on"),
                    ("autopilot_off", "Autopilot turned off"),
                ],
                max_length=24,
            ),
        ),
        migrations.CreateModel(
            name="CohortSnapshot",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                (
                    "stage",
                    models.CharField(
                        choices=[("off", "off"), ("4a", "4a internal"), ("4b", "4b 50%"), ("4c", "4c 100%")],
                        max_length=8,
                    ),
                ),
                ("state_version", models.PositiveIntegerField()),
                ("window_start", models.DateTimeField(blank=True, null=True)),
                ("computed_at", models.DateTimeField()),
                ("duration_ms", models.PositiveIntegerField(default=0)),
                ("switched", models.JSONField(default=dict)),
                ("control", models.JSONField(default=dict)),
            ],
            options={
                "db_table": "rollout_cohort_snapshot",
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("id", 1)), name="rollout_cohort_snapshot_singleton")
                ],
            },
        ),
        migrations.CreateModel(
            name="RolloutNotification",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("notified_at", models.DateTimeField(blank=True, null=True)),
                ("delivered_to", models.JSONField(blank=True, default=list)),
                ("attempts", models.PositiveSmallIntegerField(default=0)),
                ("last_error", models.TextField(blank=True, default="")),
                (
                    "event",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rollout.rolloutevent",
                    ),
                ),
            ],
            options={
                "db_table": "rollout_notifications",
                "ordering": ["id"],
                "indexes": [
                    models.Index(
                        condition=models.Q(("notified_at__isnull", True)), fields=["id"], name="rollout_notify_pending"
                    )
                ],
            },
        ),
    ]
