"""The coverage checks count only what the flags switched on (issue 21): the panel's reviewed SQL on BarTender's
tables (``adminpanel/product_sql/panel_support.sql``) now counts, per minute of sales and per day of consignments and
returns, the rows written while their bar's flags were on. A database where an older copy is installed gets the
current one here (it is idempotent and refills its counts from the rows); elsewhere Phase 2 installs it as before.
The SQL itself stays in its reviewed file, never in this migration."""

from django.db import migrations


def refresh(apps, schema_editor):
    from adminpanel.panel_schema import refresh_panel_support

    refresh_panel_support(connection=schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("adminpanel", "0003_panel_support_current")]

    # Backwards: the older code reads only the columns it knows, which the new copy keeps.
    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
