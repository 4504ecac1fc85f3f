"""Row Level Security that stays fast at production size (issue 16): step 3's policies, computed once per statement.

Step 3 (0003, whose name and policy names stay) calls SECURITY DEFINER functions with the row's ``bar_id`` inside
an ``OR``, so PostgreSQL evaluates them for every row it scans and no index can serve the policy: at 10k bars /
5M sales a server's "my sales today" took 6 s. The same 15 policies here say exactly the same thing with every
per-statement value computed once (an InitPlan) and compared with plain, indexable column conditions:

* the current user is ``(SELECT app_current_user_id())``;
* "an active owner/manager (or member) of the row's bar" is ``bar_id = ANY (<the user's bars>)``, the array
  computed once by ``app_user_bar_ids``;
* "a manager records for one of their bar's members in simplified mode" is ``(bar_id, server_id) IN (<pairs>)``,
  the (bar, member) pairs computed once by ``app_simplified_mode_members``.

``(server_id, created_at)`` indexes serve a server's own rows by time. They are built CONCURRENTLY, so sales keep
being recorded while they build, which makes this migration non-atomic; each ``ALTER POLICY`` swaps one policy
for its equivalent, so no table is ever without its policies, and every statement can simply run again after a
failure midway, except that a failed concurrent build leaves an INVALID index that ``IF NOT EXISTS`` would keep:
drop it first. The reverse restores step 3's expressions exactly (tests/test_rls.py compares them) and drops the
new functions and indexes.
"""

from django.db import migrations

TABLES = ("sales", "consignments", "returns")

FUNCTIONS = [
    # SECURITY DEFINER, like step 3's helpers: client roles need no access to bar_members or bars. PL/pgSQL rather
    # than SQL: PostgreSQL 15 keeps a PL/pgSQL function's plans for the session, while it plans an SQL function's
    # body again in every statement that calls it, which is what a one-row insert would pay.
    """
    CREATE OR REPLACE FUNCTION app_user_bar_ids(p_user uuid, p_roles text[]) RETURNS uuid[]
      LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public AS $$
      BEGIN
        RETURN (SELECT coalesce(array_agg(m.bar_id), '{}')
                FROM bar_members m
                WHERE m.user_id = p_user AND m.is_active AND m.role = ANY (p_roles));
      END
      $$
    """,
    """
    CREATE OR REPLACE FUNCTION app_simplified_mode_members(p_user uuid, p_user_roles text[], p_member_roles text[])
      RETURNS TABLE (bar_id uuid, member_id uuid)
      LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public ROWS 10 AS $$
      BEGIN
        RETURN QUERY
          SELECT member.bar_id, member.user_id
          FROM bar_members me
          JOIN bars b ON b.id = me.bar_id AND b.settings->>'operatingMode' = 'simplified'
          JOIN bar_members member ON member.bar_id = me.bar_id
          WHERE me.user_id = p_user AND me.is_active AND me.role = ANY (p_user_roles)
            AND member.is_active AND member.role = ANY (p_member_roles);
      END
      $$
    """,
]

DROP_FUNCTIONS = [
    "DROP FUNCTION IF EXISTS app_simplified_mode_members(uuid, text[], text[])",
    "DROP FUNCTION IF EXISTS app_user_bar_ids(uuid, text[])",
]

INDEXES = [
    f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {t}_server_id_created_idx ON {t} (server_id, created_at)" for t in TABLES
]
DROP_INDEXES = [f"DROP INDEX CONCURRENTLY IF EXISTS {t}_server_id_created_idx" for t in TABLES]

# ``(SELECT …)::uuid[]``: without the cast, ``= ANY ((SELECT …))`` would be read as ANY over a sub-select's rows.
MANAGER_BARS = "bar_id = ANY ((SELECT app_user_bar_ids(app_current_user_id(), ARRAY['owner', 'manager']))::uuid[])"
MEMBER_BARS = (
    "bar_id = ANY ((SELECT app_user_bar_ids(app_current_user_id(), ARRAY['owner', 'manager', 'server']))::uuid[])"
)

POLICIES = [
    """
    ALTER POLICY {t}_select_own_or_bar_manager ON {t}
      USING (server_id = (SELECT app_current_user_id()) OR {manager_bars})
    """,
    """
    ALTER POLICY {t}_insert_own ON {t}
      WITH CHECK (created_by_id = (SELECT app_current_user_id())
                  AND (server_id IS NULL OR server_id = (SELECT app_current_user_id()))
                  AND {member_bars})
    """,
    """
    ALTER POLICY {t}_insert_simplified_mode ON {t}
      WITH CHECK (created_by_id = (SELECT app_current_user_id())
                  AND server_id IS NOT NULL
                  AND (bar_id, server_id) IN (
                    SELECT r.bar_id, r.member_id
                    FROM app_simplified_mode_members(app_current_user_id(), ARRAY['owner', 'manager'],
                                                     ARRAY['owner', 'manager', 'server']) AS r))
    """,
    """
    ALTER POLICY {t}_update_bar_manager ON {t}
      USING ({manager_bars})
      WITH CHECK ({manager_bars})
    """,
    """
    ALTER POLICY {t}_delete_bar_manager ON {t}
      USING ({manager_bars})
    """,
]

# Step 3's expressions, word for word (0003_20251224130300_add_simplified_mode_sale_creation_policy).
STEP3_POLICIES = [
    """
    ALTER POLICY {t}_select_own_or_bar_manager ON {t}
      USING (server_id = app_current_user_id()
             OR app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager']))
    """,
    """
    ALTER POLICY {t}_insert_own ON {t}
      WITH CHECK (created_by_id = app_current_user_id()
                  AND (server_id IS NULL OR server_id = app_current_user_id())
                  AND app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager', 'server']))
    """,
    """
    ALTER POLICY {t}_insert_simplified_mode ON {t}
      WITH CHECK (created_by_id = app_current_user_id()
                  AND app_bar_is_simplified(bar_id)
                  AND app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager'])
                  AND server_id IS NOT NULL
                  AND app_user_has_bar_role(server_id, bar_id, ARRAY['owner', 'manager', 'server']))
    """,
    """
    ALTER POLICY {t}_update_bar_manager ON {t}
      USING (app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager']))
      WITH CHECK (app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager']))
    """,
    """
    ALTER POLICY {t}_delete_bar_manager ON {t}
      USING (app_user_has_bar_role(app_current_user_id(), bar_id, ARRAY['owner', 'manager']))
    """,
]


def for_each_table(statements: list[str]) -> list[str]:
    """The statements written once with ``{t}``, for sales, consignments and returns."""
    return [s.format(t=t, manager_bars=MANAGER_BARS, member_bars=MEMBER_BARS) for t in TABLES for s in statements]


class Migration(migrations.Migration):
    # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction.
    atomic = False

    dependencies = [
        ("adminpanel", "0010_move_health_and_validation_models_out"),
    ]

    operations = [
        migrations.RunSQL(sql=FUNCTIONS, reverse_sql=DROP_FUNCTIONS),
        migrations.RunSQL(sql=INDEXES, reverse_sql=DROP_INDEXES),
        migrations.RunSQL(sql=for_each_table(POLICIES), reverse_sql=for_each_table(STEP3_POLICIES)),
    ]
