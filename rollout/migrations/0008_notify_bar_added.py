"""Notify channel ``bartender_flags`` when bars are added (payload ``bar-added``, once per statement), so every
process drops its kept flag snapshots (`GET /api/v1/flags/snapshot` lists every bar a token may read). Per-bar
readings are unaffected: an unknown bar is never cached."""

from django.db import migrations

SQL = """
CREATE FUNCTION rollout_notify_bar_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('bartender_flags', 'bar-added');
  RETURN NULL;
END $$;
CREATE TRIGGER bars_added AFTER INSERT ON bars FOR EACH STATEMENT EXECUTE FUNCTION rollout_notify_bar_added();
"""

REVERSE = """
DROP TRIGGER IF EXISTS bars_added ON bars;
DROP FUNCTION IF EXISTS rollout_notify_bar_added();
"""


class Migration(migrations.Migration):
    dependencies = [("rollout", "0007_event_kinds_of_autopilot_and_runbook")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
