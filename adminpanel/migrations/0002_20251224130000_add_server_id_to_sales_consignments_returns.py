"""Runbook step 1 (20251224130000_add_server_id_to_sales_consignments_returns.sql).

Adds the nullable ``server_id`` column (FK to users, indexed) to sales, consignments and returns.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("adminpanel", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="sale",
            name="server",
            field=models.ForeignKey(
                blank=True,
                db_column="server_id",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="served_sales",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="consignment",
            name="server",
            field=models.ForeignKey(
                blank=True,
                db_column="server_id",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="served_consignments",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.AddField(
            model_name="return",
            name="server",
            field=models.ForeignKey(
                blank=True,
                db_column="server_id",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="served_returns",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
    ]
