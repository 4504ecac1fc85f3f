"""Replace an older copy of the panel's reviewed SQL on BarTender's tables (adminpanel/product_sql/panel_support.sql)
by the current one, where Phase 2 already put one in place: this copy adds the migration log's summary that the
log's pages read. The SQL stays in its reviewed file; this only applies it again."""

from django.db import migrations


def refresh(apps, schema_editor):
    from adminpanel.panel_schema import refresh_panel_support

    refresh_panel_support(connection=schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("adminpanel", "0002_panel_triggers")]

    operations = [migrations.RunPython(refresh, migrations.RunPython.noop)]
