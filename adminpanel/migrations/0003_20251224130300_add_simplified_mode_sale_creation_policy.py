"""Runbook step 3 (20251224130300_add_simplified_mode_sale_creation_policy.sql).

Row Level Security on sales, consignments and returns, keyed on the BarTender app user
(``current_setting('app.user_id', true)``):

* select: a server sees the rows they served; an active owner/manager sees every row of their bar;
* insert (own): an active member records a row as themselves (server_id empty or themselves);
* insert (simplified mode): in a bar whose ``operatingMode`` is ``simplified``, an active owner/manager
  records a row on behalf of an active member of that same bar;
* update / delete: active owners/managers of the bar.

The panel connects as the tables' owner, which RLS does not restrict; BarTender clients connect as a
non-owner role and are held to these policies (tests/test_rls.py proves it).
"""

from django.db import migrations

TABLES = ("sales", "consignments", "returns")

HELPERS = """
CREATE FUNCTION app_current_user_id() RETURNS uuid
  LANGUAGE sql STABLE AS $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$;

-- SECURITY DEFINER: evaluated with the owner's rights, so client roles need no access to bar_members.
CREATE FUNCTION app_user_has_bar_role(p_user uuid, p_bar uuid, p_roles text[]) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT EXISTS (
      SELECT 1 FROM bar_members m
      WHERE m.bar_id = p_bar AND m.user_id = p_user AND m.is_active AND m.role = ANY (p_roles)
    )
  $$;

CREATE FUNCTION app_bar_is_simplified(p_bar uuid) RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public AS $$
    SELECT EXISTS (SELECT 1 FROM bars b WHERE b.id = p_bar AND b.settings->>'operatingMode' = 'simplified')
  $$;
"""

POLICIES = """
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;

CREATE POLICY {t}_select_own_or_bar_manager ON {t} FOR SELECT
  USING (server_id = app_current_user_id()
         OR app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager']));

CREATE POLICY {t}_insert_own ON {t} FOR INSERT
  WITH CHECK (created_by_id = app_current_user_id()
              AND (server_id IS NULL OR server_id = app_current_user_id())
              AND app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager', 'server']));

CREATE POLICY {t}_insert_simplified_mode ON {t} FOR INSERT
  WITH CHECK (created_by_id = app_current_user_id()
              AND app_bar_is_simplified(bar_id)
              AND app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager'])
              AND server_id IS NOT NULL
              AND app_user_has_bar_role(server_id, bar_id, ARRAY['owner', 'manager', 'server']));

CREATE POLICY {t}_update_bar_manager ON {t} FOR UPDATE
  USING (app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager']))
  WITH CHECK (app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager']));

CREATE POLICY {t}_delete_bar_manager ON {t} FOR DELETE
  USING (app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager']));
"""

DROP_POLICIES = """
DROP POLICY IF EXISTS {t}_select_own_or_bar_manager ON {t};
DROP POLICY IF EXISTS {t}_insert_own ON {t};
DROP POLICY IF EXISTS {t}_insert_simplified_mode ON {t};
DROP POLICY IF EXISTS {t}_update_bar_manager ON {t};
DROP POLICY IF EXISTS {t}_delete_bar_manager ON {t};
ALTER TABLE {t} DISABLE ROW LEVEL SECURITY;
"""

DROP_HELPERS = """
DROP FUNCTION IF EXISTS app_bar_is_simplified(uuid);
DROP FUNCTION IF EXISTS app_user_has_bar_role(uuid, uuid, text[]);
DROP FUNCTION IF EXISTS app_current_user_id();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("adminpanel", "0002_20251224130000_add_server_id_to_sales_consignments_returns"),
        ("mappings", "0001_20251224130100_add_server_name_mappings_table"),
    ]

    operations = [
        migrations.RunSQL(
            sql=HELPERS + "".join(POLICIES.format(t=t) for t in TABLES),
            reverse_sql="".join(DROP_POLICIES.format(t=t) for t in TABLES) + DROP_HELPERS,
        ),
    ]
