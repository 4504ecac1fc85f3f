"""The runbook cockpit (issue 11): runs of the steps the panel runs itself (Phase 1, Phase 3's deployment check),
the database backups they take, the "Runbook step" timeline kind, and the record's link to its backup."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('rollout', '0005_autopilot_and_notifications'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name='DatabaseBackup',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('path', models.CharField(max_length=500)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('created_by_name', models.CharField(default='system', max_length=150)),
                ('size_bytes', models.BigIntegerField(default=0)),
                ('sha256', models.CharField(blank=True, default='', max_length=64)),
                ('duration_ms', models.PositiveIntegerField(default=0)),
                ('server_version', models.CharField(blank=True, default='', max_length=100)),
                ('pg_dump_version', models.CharField(blank=True, default='', max_length=100)),
                ('database', models.CharField(blank=True, default='', max_length=200)),
                ('verified', models.BooleanField(default=False)),
                ('toc_entries', models.PositiveIntegerField(default=0)),
                ('tables_with_data', models.JSONField(blank=True, default=list)),
                ('verify_error', models.TextField(blank=True, default='')),
            ],
            options={
                'db_table': 'database_backups',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.AlterField(
            model_name='rolloutevent',
            name='kind',
            field=models.CharField(choices=[('flag_flip', 'Flag flipped'), ('allow_list', 'Allow-list changed'), ('stage_advance', 'Stage advanced'), ('stage_pause', 'Rollout paused'), ('stage_resume', 'Rollout resumed'), ('gate_override', 'Gate overridden'), ('stage_rollback', 'Stage rolled back'), ('kill_switch', 'Kill switch'), ('auto_rollback', 'Automatic rollback'), ('record', 'Deployment record'), ('runbook', 'Runbook step')], max_length=24),
        ),
        migrations.AddField(
            model_name='deploymentrecord',
            name='backup',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='rollout.databasebackup'),
        ),
        migrations.CreateModel(
            name='RunbookRun',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('step', models.CharField(choices=[('test_suite', 'Test suite and build (CI run)'), ('load_test', 'RLS load test'), ('rollback_rehearsal', 'Rollback rehearsal'), ('backup', 'Database backup'), ('flags_off', 'Feature flags verified off'), ('deploy_check', 'Code deployment verified')], max_length=24)),
                ('status', models.CharField(choices=[('queued', 'Queued'), ('running', 'Running'), ('passed', 'Passed'), ('failed', 'Failed'), ('waived', 'Waived')], default='queued', max_length=16)),
                ('requested_by_name', models.CharField(default='system', max_length=150)),
                ('via', models.CharField(default='panel', help_text='panel, command or demo', max_length=16)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('started_at', models.DateTimeField(blank=True, null=True)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
                ('progress', models.PositiveSmallIntegerField(default=0)),
                ('progress_note', models.CharField(blank=True, default='', max_length=300)),
                ('heartbeat_at', models.DateTimeField(blank=True, null=True)),
                ('parameters', models.JSONField(blank=True, default=dict)),
                ('result', models.JSONField(blank=True, default=dict)),
                ('summary', models.CharField(blank=True, default='', max_length=500)),
                ('error', models.TextField(blank=True, default='')),
                ('reason', models.TextField(blank=True, default='', help_text="Why it was waived, or the attestation's note.")),
                ('task_id', models.CharField(blank=True, default='', max_length=64)),
                ('requested_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'db_table': 'runbook_runs',
                'ordering': ['-created_at', '-id'],
            },
        ),
        migrations.AddField(
            model_name='databasebackup',
            name='run',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='backups', to='rollout.runbookrun'),
        ),
        migrations.AddIndex(
            model_name='runbookrun',
            index=models.Index(fields=['step', '-created_at'], name='runbook_run_step_idx'),
        ),
        migrations.AddConstraint(
            model_name='runbookrun',
            constraint=models.UniqueConstraint(condition=models.Q(('status__in', ['queued', 'running'])), fields=('step',), name='runbook_run_one_active_per_step'),
        ),
        migrations.AddConstraint(
            model_name='runbookrun',
            constraint=models.CheckConstraint(condition=models.Q(('progress__lte', 100)), name='runbook_run_progress_pct'),
        ),
        migrations.AddConstraint(
            model_name='runbookrun',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('status', 'waived'), _negated=True), models.Q(('reason', ''), _negated=True), _connector='OR'), name='runbook_run_waiver_has_reason'),
        ),
    ]
