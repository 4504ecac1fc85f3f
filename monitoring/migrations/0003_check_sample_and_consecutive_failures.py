"""Issue 13: "not enough data" as a check status, consecutive failing runs per result, and when an alert's
safeguard tripped (only then is it announced for automatic action).

Numbered 0003 on purpose: another branch adds monitoring 0002 (incidents); the integrator re-points the
dependency. Unresolved critical alerts opened under the old rule were already announced, so they are marked
tripped at their opening (or escalation): an upgrade never announces them a second time.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0002_incidents_and_contact_chain"),
    ]

    operations = [
        migrations.AddField(
            model_name="alert",
            name="safeguard_tripped_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="checkresult",
            name="critical_streak",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="checkresult",
            name="failing_streak",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AlterField(
            model_name="alert",
            name="severity",
            field=models.CharField(
                choices=[
                    ("ok", "OK"),
                    ("warning", "Warning"),
                    ("critical", "Critical"),
                    ("unknown", "Unknown"),
                    ("insufficient", "Not enough data"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="alertevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("opened", "Opened"),
                    ("escalated", "Escalated"),
                    ("resolved", "Resolved"),
                    ("acknowledged", "Acknowledged"),
                    ("safeguard", "Safeguard tripped (counts toward automatic action)"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="alertevent",
            name="severity",
            field=models.CharField(
                choices=[
                    ("ok", "OK"),
                    ("warning", "Warning"),
                    ("critical", "Critical"),
                    ("unknown", "Unknown"),
                    ("insufficient", "Not enough data"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="checkresult",
            name="status",
            field=models.CharField(
                choices=[
                    ("ok", "OK"),
                    ("warning", "Warning"),
                    ("critical", "Critical"),
                    ("unknown", "Unknown"),
                    ("insufficient", "Not enough data"),
                ],
                max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="healthrun",
            name="status",
            field=models.CharField(
                choices=[
                    ("ok", "OK"),
                    ("warning", "Warning"),
                    ("critical", "Critical"),
                    ("unknown", "Unknown"),
                    ("insufficient", "Not enough data"),
                ],
                default="unknown",
                max_length=16,
            ),
        ),
        migrations.RunSQL(
            "UPDATE health_alerts SET safeguard_tripped_at = coalesce(escalated_at, opened_at) "
            "WHERE severity = 'critical' AND state <> 'resolved'",
            migrations.RunSQL.noop,
        ),
    ]
