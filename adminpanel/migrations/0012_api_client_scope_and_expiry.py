"""API tokens scoped to bars, with an expiry, and revoked at once in every process (issue 10).

Clients issued before this migration were valid for every bar and never expired: they keep every bar (``all_bars``,
which an administrator can narrow in the Django admin) and expire a token lifetime from now. Triggers notify
channel ``bartender_api_clients`` when what a token may do changes (revoked, rotated, expiry or scope changed,
client deleted), so every process's token cache (adminpanel.api_auth) forgets it on commit. ``last_used_at``
updates do not notify: polling clients would otherwise empty every cache every minute.

Depends on 0010; 0011 is another change's number (RLS policies), the integrator orders the two.
"""

from django.db import migrations, models

import adminpanel.models.api

NOTIFY_SQL = """
CREATE FUNCTION api_clients_notify_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('bartender_api_clients', '*');
  RETURN NULL;
END $$;

CREATE TRIGGER api_clients_added_or_deleted AFTER INSERT OR DELETE OR TRUNCATE ON api_clients
  FOR EACH STATEMENT EXECUTE FUNCTION api_clients_notify_changed();
CREATE TRIGGER api_clients_access_changed
  AFTER UPDATE OF is_active, token_hash, expires_at, all_bars ON api_clients
  FOR EACH STATEMENT EXECUTE FUNCTION api_clients_notify_changed();
CREATE TRIGGER api_clients_bars_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON api_clients_bars
  FOR EACH STATEMENT EXECUTE FUNCTION api_clients_notify_changed();
"""

NOTIFY_REVERSE = """
DROP TRIGGER IF EXISTS api_clients_added_or_deleted ON api_clients;
DROP TRIGGER IF EXISTS api_clients_access_changed ON api_clients;
DROP TRIGGER IF EXISTS api_clients_bars_changed ON api_clients_bars;
DROP FUNCTION IF EXISTS api_clients_notify_changed();
"""


def existing_clients_keep_every_bar(apps, schema_editor):
    apps.get_model("adminpanel", "ApiClient").objects.update(all_bars=True)


class Migration(migrations.Migration):
    dependencies = [("adminpanel", "0011_rls_policies_computed_once")]

    operations = [
        migrations.AddField(
            model_name="apiclient",
            name="all_bars",
            field=models.BooleanField(
                default=False,
                help_text="Every bar, present and future (a fleet-wide client); otherwise only the bars above.",
            ),
        ),
        migrations.RunPython(existing_clients_keep_every_bar, migrations.RunPython.noop),
        migrations.AddField(
            model_name="apiclient",
            name="bars",
            field=models.ManyToManyField(
                blank=True,
                help_text="The bars this token may resolve names and read flags of.",
                related_name="+",
                to="adminpanel.bar",
            ),
        ),
        migrations.AddField(
            model_name="apiclient",
            name="expires_at",
            field=models.DateTimeField(
                default=adminpanel.models.api.default_expiry, help_text="The token stops working at this time."
            ),
        ),
        migrations.AlterField(
            model_name="apiclient",
            name="is_active",
            field=models.BooleanField(default=True, help_text="Untick to revoke the token at once, in every process."),
        ),
        migrations.RunSQL(NOTIFY_SQL, NOTIFY_REVERSE),
    ]
