"""The coverage checks count only what the flags switched on (issue 21): the panel's reviewed SQL on BarTender's
tables (``adminpanel/product_sql/panel_support.sql``) now counts, per minute of sales and per day of consignments and
returns, the rows written while their bar's flags were on. A database where that SQL is already installed gets the
new copy here (it is idempotent and refills its counts from the rows); elsewhere Phase 2 installs it as before. The
SQL itself stays in its reviewed file, never in this migration."""

from django.db import migrations


def reinstall_panel_support(apps, schema_editor):
    from adminpanel.panel_schema import install_panel_support, support_installed

    connection = schema_editor.connection
    if support_installed(connection=connection):
        install_panel_support(connection=connection)


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0003_incident_notification_kinds"),
    ]

    # Backwards: the older code reads only the columns it knows, which the new copy keeps.
    operations = [migrations.RunPython(reinstall_panel_support, migrations.RunPython.noop, elidable=False)]
