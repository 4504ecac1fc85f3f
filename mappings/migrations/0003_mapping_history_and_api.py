"""Issue 3: pending CSV imports, and the index that unmapped-name discovery and coverage read.

Mapping history itself lives in the existing append-only ``panel_events`` table (actions ``mapping.*``), and
API tokens in ``api_clients`` (adminpanel 0007), so neither needs a table here.

``sales_bar_server_name_idx`` is on a table this app does not own (``sales``), hence raw SQL with a reverse.
It is partial (full-mode sales carry no typed name) and covers ``created_at`` so that the per-bar
``GROUP BY server_name`` with counts and last-seen is an index-only scan. It is built CONCURRENTLY so that a
production ``sales`` table keeps taking writes meanwhile, which is why this migration is not atomic.
"""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("mappings", "0002_bar_mapping_scope"),
        ("adminpanel", "0007_health_runs_alerts_and_api_clients"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="MappingImport",
            fields=[
                ("id", models.UUIDField(default=uuid.uuid4, editable=False, primary_key=True, serialize=False)),
                ("filename", models.CharField(blank=True, max_length=255)),
                ("content", models.TextField(help_text="The uploaded file, decoded from UTF-8.")),
                ("summary", models.JSONField(blank=True, default=dict)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("applied_at", models.DateTimeField(blank=True, null=True)),
                (
                    "bar",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to="adminpanel.bar"
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="+", to=settings.AUTH_USER_MODEL
                    ),
                ),
            ],
            options={
                "db_table": "mapping_imports",
                "ordering": ["-created_at"],
                "indexes": [models.Index(fields=["bar", "created_by", "created_at"], name="mapping_imports_owner_idx")],
            },
        ),
        migrations.RunSQL(
            sql=(
                "CREATE INDEX CONCURRENTLY IF NOT EXISTS sales_bar_server_name_idx "
                "ON sales (bar_id, server_name) INCLUDE (created_at) WHERE server_name IS NOT NULL"
            ),
            reverse_sql="DROP INDEX CONCURRENTLY IF EXISTS sales_bar_server_name_idx",
        ),
    ]
