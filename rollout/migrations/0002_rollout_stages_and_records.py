"""Issue 6: rollout stages, gates, audit timeline and deployment records."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("rollout", "0001_initial"),
        ("adminpanel", "0007_health_runs_alerts_and_api_clients"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="featureflag",
            name="kill_switch_engaged",
            field=models.BooleanField(default=False),
        ),
        migrations.CreateModel(
            name="DeploymentRecord",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("date", models.DateField(default=django.utils.timezone.localdate)),
                ("backup_location", models.CharField(blank=True, default="", max_length=300)),
                ("tests_passing", models.BooleanField(blank=True, null=True)),
                ("flags_off", models.BooleanField(blank=True, null=True)),
                ("code_builds", models.BooleanField(blank=True, null=True)),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
                ("issues_encountered", models.TextField(blank=True, default="")),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("in_progress", "In progress"),
                            ("successful", "✓ Successful"),
                            ("rolled_back", "✗ Rolled back"),
                        ],
                        default="in_progress",
                        max_length=16,
                    ),
                ),
                ("deployer_signed_at", models.DateTimeField(blank=True, null=True)),
                ("reviewer_signed_at", models.DateTimeField(blank=True, null=True)),
                ("snapshot", models.JSONField(blank=True, null=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "deployer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
                (
                    "reviewer",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "db_table": "deployment_records",
                "ordering": ["-date", "-id"],
            },
        ),
        migrations.CreateModel(
            name="RolloutState",
            fields=[
                ("id", models.PositiveSmallIntegerField(default=1, primary_key=True, serialize=False)),
                (
                    "stage",
                    models.CharField(
                        choices=[("off", "off"), ("4a", "4a internal"), ("4b", "4b 50%"), ("4c", "4c 100%")],
                        default="off",
                        max_length=8,
                    ),
                ),
                ("paused", models.BooleanField(default=False)),
                (
                    "soak_started_at",
                    models.DateTimeField(blank=True, help_text="Last step of the current stage.", null=True),
                ),
                ("version", models.PositiveIntegerField(default=1)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                "db_table": "rollout_state",
                "constraints": [
                    models.CheckConstraint(condition=models.Q(("id", 1)), name="rollout_state_singleton"),
                    models.CheckConstraint(
                        condition=models.Q(("stage__in", ["off", "4a", "4b", "4c"])), name="rollout_state_stage_valid"
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="RolloutStep",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "stage",
                    models.CharField(
                        choices=[("off", "off"), ("4a", "4a internal"), ("4b", "4b 50%"), ("4c", "4c 100%")],
                        max_length=8,
                    ),
                ),
                ("batch_size", models.PositiveIntegerField(blank=True, null=True)),
                ("bars_changed", models.PositiveIntegerField(default=0)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("rolled_back_at", models.DateTimeField(blank=True, null=True)),
                (
                    "actor",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "rollout_steps",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="RolloutEvent",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "kind",
                    models.CharField(
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
                        ],
                        max_length=24,
                    ),
                ),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("actor_name", models.CharField(max_length=150)),
                ("stage_before", models.CharField(blank=True, default="", max_length=8)),
                ("stage_after", models.CharField(blank=True, default="", max_length=8)),
                ("before", models.JSONField(blank=True, null=True)),
                ("after", models.JSONField(blank=True, null=True)),
                ("reason", models.TextField(blank=True, default="")),
                ("is_override", models.BooleanField(default=False)),
                (
                    "actor",
                    models.ForeignKey(
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "alert",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="adminpanel.alert",
                    ),
                ),
                (
                    "flag",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rollout.featureflag",
                    ),
                ),
                (
                    "record",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rollout.deploymentrecord",
                    ),
                ),
                (
                    "step",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="rollout.rolloutstep",
                    ),
                ),
            ],
            options={
                "db_table": "rollout_events",
                "ordering": ["-created_at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="RolloutBarChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "flags_added",
                    models.JSONField(default=list, help_text="Ids of the flags whose allow-list this step added to."),
                ),
                ("rolled_back_at", models.DateTimeField(blank=True, null=True)),
                (
                    "bar",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="adminpanel.bar"
                    ),
                ),
                (
                    "step",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="changes", to="rollout.rolloutstep"
                    ),
                ),
            ],
            options={
                "db_table": "rollout_bar_changes",
            },
        ),
        migrations.AddConstraint(
            model_name="deploymentrecord",
            constraint=models.CheckConstraint(
                condition=models.Q(("deployer", models.F("reviewer")), _negated=True),
                name="deployment_record_two_people",
            ),
        ),
        migrations.AddConstraint(
            model_name="deploymentrecord",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("ended_at__isnull", True), ("ended_at__gte", models.F("started_at")), _connector="OR"
                ),
                name="deployment_record_window_ordered",
            ),
        ),
        migrations.AddConstraint(
            model_name="rolloutstep",
            constraint=models.CheckConstraint(
                condition=models.Q(("stage", "off"), _negated=True), name="rollout_step_stage_not_off"
            ),
        ),
        migrations.AddIndex(
            model_name="rolloutevent",
            index=models.Index(fields=["created_at"], name="rollout_events_created_idx"),
        ),
        migrations.AddIndex(
            model_name="rolloutevent",
            index=models.Index(fields=["kind", "created_at"], name="rollout_events_kind_idx"),
        ),
        migrations.AddIndex(
            model_name="rolloutbarchange",
            index=models.Index(fields=["bar"], name="rollout_bar_change_bar_idx"),
        ),
        migrations.AddConstraint(
            model_name="rolloutbarchange",
            constraint=models.UniqueConstraint(fields=("step", "bar"), name="rollout_bar_change_unique"),
        ),
        # The timeline is append-only at the database level (as panel_events, migration adminpanel 0001);
        # TRUNCATE stays allowed to the table owner so test flushes work.
        migrations.RunSQL(
            sql="""
            CREATE FUNCTION rollout_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION 'rollout_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
            END $$;
            CREATE TRIGGER rollout_events_no_update_delete BEFORE UPDATE OR DELETE ON rollout_events
              FOR EACH ROW EXECUTE FUNCTION rollout_events_append_only();
            """,
            reverse_sql="DROP FUNCTION IF EXISTS rollout_events_append_only() CASCADE;",
        ),
    ]
