"""Notify channel ``bartender_flags`` when what the flag API answers changes, so every process's flag cache
drops it on commit: a bar's operating mode (payload: the bar id), a flag or an allow-list (payload: ``*``)."""

from django.db import migrations

SQL = """
CREATE FUNCTION rollout_notify_bar_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('bartender_flags', COALESCE(NEW.id, OLD.id)::text);
  RETURN NULL;
END $$;

CREATE FUNCTION rollout_notify_flags_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('bartender_flags', '*');
  RETURN NULL;
END $$;

CREATE TRIGGER bars_operating_mode_changed AFTER UPDATE OF settings ON bars FOR EACH ROW
  WHEN ((OLD.settings->>'operatingMode') IS DISTINCT FROM (NEW.settings->>'operatingMode'))
  EXECUTE FUNCTION rollout_notify_bar_changed();
CREATE TRIGGER bars_deleted AFTER DELETE ON bars FOR EACH ROW EXECUTE FUNCTION rollout_notify_bar_changed();
CREATE TRIGGER feature_flags_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON feature_flags
  FOR EACH STATEMENT EXECUTE FUNCTION rollout_notify_flags_changed();
CREATE TRIGGER feature_flag_bars_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON feature_flag_bars
  FOR EACH STATEMENT EXECUTE FUNCTION rollout_notify_flags_changed();
"""

REVERSE = """
DROP TRIGGER IF EXISTS bars_operating_mode_changed ON bars;
DROP TRIGGER IF EXISTS bars_deleted ON bars;
DROP TRIGGER IF EXISTS feature_flags_changed ON feature_flags;
DROP TRIGGER IF EXISTS feature_flag_bars_changed ON feature_flag_bars;
DROP FUNCTION IF EXISTS rollout_notify_bar_changed();
DROP FUNCTION IF EXISTS rollout_notify_flags_changed();
"""


class Migration(migrations.Migration):
    dependencies = [("rollout", "0002_rollout_stages_and_records")]

    operations = [migrations.RunSQL(SQL, REVERSE)]
