"""Runbook step 2 (20251224130100_add_server_name_mappings_table.sql): per-bar server name mappings.

Unique per bar on the normalised name (trimmed, whitespace collapsed, NFKC, case-folded), which the
resolver looks up with one indexed query.
"""

import django.db.models.deletion
import django.db.models.functions.text
import django.db.models.lookups
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("adminpanel", "0002_20251224130000_add_server_id_to_sales_consignments_returns"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="ServerNameMapping",
            fields=[
                (
                    "id",
                    models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID"),
                ),
                ("server_name", models.CharField(max_length=200)),
                ("normalized_name", models.CharField(editable=False, max_length=400)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "bar",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="server_name_mappings",
                        to="adminpanel.bar",
                    ),
                ),
                (
                    "created_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "updated_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="server_name_mappings",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "db_table": "server_name_mappings",
                "ordering": ["normalized_name"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("bar", "normalized_name"), name="server_name_mappings_unique_normalized"
                    ),
                    models.CheckConstraint(
                        condition=models.Q(
                            django.db.models.lookups.LessThanOrEqual(
                                django.db.models.functions.text.Length("normalized_name"), 100
                            ),
                            models.Q(("normalized_name", ""), _negated=True),
                        ),
                        name="server_name_mappings_normalized_length",
                    ),
                ],
            },
        ),
    ]
