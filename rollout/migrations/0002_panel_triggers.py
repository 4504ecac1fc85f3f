"""Database rules on the rollout's own tables (the panel's schema only):

* the timeline is append-only (as panel_events); TRUNCATE stays allowed to the table owner so test flushes work;
* a change of a flag or an allow-list notifies channel ``bartender_flags`` (payload ``*``), so every process's flag
  cache drops it on commit. Changes of a bar's operating mode are notified by the panel's reviewed SQL on BarTender's
  ``bars`` (adminpanel/product_sql/panel_support.sql), not by a migration."""

from django.db import migrations

SQL = """
CREATE FUNCTION rollout_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'rollout_events is append-only: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER rollout_events_no_update_delete BEFORE UPDATE OR DELETE ON rollout_events
  FOR EACH ROW EXECUTE FUNCTION rollout_events_append_only();

CREATE FUNCTION rollout_notify_flags_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('bartender_flags', '*');
  RETURN NULL;
END $$;
CREATE TRIGGER feature_flags_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON feature_flags
  FOR EACH STATEMENT EXECUTE FUNCTION rollout_notify_flags_changed();
CREATE TRIGGER feature_flag_bars_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON feature_flag_bars
  FOR EACH STATEMENT EXECUTE FUNCTION rollout_notify_flags_changed();
"""

REVERSE = """
DROP FUNCTION IF EXISTS rollout_events_append_only() CASCADE;
DROP FUNCTION IF EXISTS rollout_notify_flags_changed() CASCADE;
"""


class Migration(migrations.Migration):
    dependencies = [("rollout", "0001_initial")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
