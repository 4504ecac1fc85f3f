"""Runbook step 4 (20251224130400_fix_server_id_foreign_keys_on_delete.sql).

Deleting a user must keep their sales: the database rule on ``server_id`` becomes ON DELETE SET NULL.
Django's own DB_SET_NULL cannot be used because other apps reference users with Python-level cascades
(Django refuses to mix the two), so the constraint is rewritten in SQL and the model keeps
``on_delete=SET_NULL`` for ORM deletes. The constraint is renamed ``<table>_server_id_fkey``.
"""

from django.db import migrations

TABLES = ("sales", "consignments", "returns")

REWRITE = """
DO $$
DECLARE c record;
BEGIN
  FOR c IN
    SELECT con.conname FROM pg_constraint con
    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = ANY (con.conkey)
    WHERE con.conrelid = '{t}'::regclass AND con.contype = 'f' AND a.attname = 'server_id'
  LOOP
    EXECUTE format('ALTER TABLE {t} DROP CONSTRAINT %I', c.conname);
  END LOOP;
END $$;
ALTER TABLE {t} ADD CONSTRAINT {t}_server_id_fkey FOREIGN KEY (server_id)
  REFERENCES users (id) ON DELETE {rule} DEFERRABLE INITIALLY DEFERRED;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("adminpanel", "0003_20251224130300_add_simplified_mode_sale_creation_policy"),
    ]

    operations = [
        migrations.RunSQL(
            sql="".join(REWRITE.format(t=t, rule="SET NULL") for t in TABLES),
            reverse_sql="".join(REWRITE.format(t=t, rule="NO ACTION") for t in TABLES),
        ),
    ]
