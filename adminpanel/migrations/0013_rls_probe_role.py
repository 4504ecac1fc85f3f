"""The non-owner role the health check probes BarTender's client queries as (settings.RLS_PROBE_ROLE).

Created only where the panel's database user may create roles (the local cluster, CI); elsewhere a DBA creates it
(NOLOGIN, SELECT on sales/consignments/returns, granted to the panel's user) and the check says so until then.
Reversing leaves the role: it is cluster-wide and other databases may use it.
"""

from django.conf import settings
from django.db import migrations


def _create_role(apps, schema_editor):
    role = schema_editor.quote_name(settings.RLS_PROBE_ROLE)
    literal = "'" + settings.RLS_PROBE_ROLE.replace("'", "''") + "'"
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            f"""
            DO $$
            BEGIN
              IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {literal}) THEN
                CREATE ROLE {role} NOLOGIN NOSUPERUSER NOBYPASSRLS;
              END IF;
              GRANT {role} TO CURRENT_USER;
              GRANT SELECT ON sales, consignments, returns TO {role};
            EXCEPTION WHEN insufficient_privilege THEN
              RAISE NOTICE 'RLS probe role not created: %', SQLERRM;
            END
            $$;
            """  # noqa: S608 (the role name is a setting, quoted)
        )


class Migration(migrations.Migration):
    dependencies = [("adminpanel", "0012_api_client_scope_and_expiry")]

    operations = [migrations.RunPython(_create_role, migrations.RunPython.noop)]
