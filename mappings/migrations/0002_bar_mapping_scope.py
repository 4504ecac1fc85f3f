"""The object permission ``mappings.manage_bar_mappings`` on bars (see adminpanel/permissions.py)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("mappings", "0001_20251224130100_add_server_name_mappings_table"),
    ]

    operations = [
        migrations.CreateModel(
            name="BarMappingScope",
            fields=[],
            options={
                "permissions": [("manage_bar_mappings", "Can manage the server name mappings of this bar")],
                "proxy": True,
                "default_permissions": (),
                "indexes": [],
                "constraints": [],
            },
            bases=("adminpanel.bar",),
        ),
    ]
