"""The health and validation models now belong to monitoring and backfill: drop them from adminpanel's state only."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("adminpanel", "0009_health_checks_extensions"),
        ("backfill", "0001_models_moved_from_adminpanel_and_mappings"),
        ("monitoring", "0001_models_moved_from_adminpanel"),
        ("rollout", "0004_alert_moved_to_monitoring"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(
                    model_name="alert",
                    name="health_alert_state_idx",
                ),
                migrations.RemoveConstraint(
                    model_name="alert",
                    name="health_alert_one_unresolved_per_check",
                ),
                migrations.RemoveIndex(
                    model_name="alertevent",
                    name="health_alert_event_pending",
                ),
                migrations.RemoveIndex(
                    model_name="checkresult",
                    name="health_result_check_idx",
                ),
                migrations.RemoveConstraint(
                    model_name="checkresult",
                    name="health_result_unique_per_run",
                ),
                migrations.RemoveIndex(
                    model_name="healthrun",
                    name="health_runs_finished_idx",
                ),
                migrations.RemoveConstraint(
                    model_name="phasewindow",
                    name="health_phase_one_running",
                ),
                migrations.RemoveConstraint(
                    model_name="phasewindow",
                    name="health_phase_ends_after",
                ),
                migrations.RemoveConstraint(
                    model_name="validationcheck",
                    name="validation_check_unique_per_run",
                ),
                migrations.RemoveField(
                    model_name="validationrun",
                    name="run_by",
                ),
                migrations.RemoveField(
                    model_name="alertevent",
                    name="actor",
                ),
                migrations.RemoveField(
                    model_name="alertevent",
                    name="alert",
                ),
                migrations.RemoveField(
                    model_name="checkresult",
                    name="run",
                ),
                migrations.RemoveField(
                    model_name="healthrun",
                    name="triggered_by",
                ),
                migrations.RemoveField(
                    model_name="phasewindow",
                    name="started_by",
                ),
                migrations.RemoveField(
                    model_name="validationcheck",
                    name="run",
                ),
                migrations.DeleteModel(
                    name="Alert",
                ),
                migrations.DeleteModel(
                    name="AlertEvent",
                ),
                migrations.DeleteModel(
                    name="CheckResult",
                ),
                migrations.DeleteModel(
                    name="HealthRun",
                ),
                migrations.DeleteModel(
                    name="PhaseWindow",
                ),
                migrations.DeleteModel(
                    name="ValidationCheck",
                ),
                migrations.DeleteModel(
                    name="ValidationRun",
                ),
            ],
        ),
    ]
