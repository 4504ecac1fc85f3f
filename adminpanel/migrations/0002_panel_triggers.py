"""Database rules on the panel's own tables (its schema only; nothing here touches BarTender's tables):

* the panel's audit trail is append-only whatever client writes to it (TRUNCATE stays with the table owner: it is how
  test databases are reset);
* a change of an API client's access notifies channel ``bartender_api_clients``, so every serving process drops the
  tokens it remembered (adminpanel.api_auth)."""

from django.db import migrations

SQL = """
CREATE FUNCTION panel_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'panel_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER panel_events_no_update_delete BEFORE UPDATE OR DELETE ON panel_events
  FOR EACH ROW EXECUTE FUNCTION panel_events_append_only();

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

REVERSE = """
DROP FUNCTION IF EXISTS panel_events_append_only() CASCADE;
DROP FUNCTION IF EXISTS api_clients_notify_changed() CASCADE;
"""


class Migration(migrations.Migration):
    dependencies = [("adminpanel", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
