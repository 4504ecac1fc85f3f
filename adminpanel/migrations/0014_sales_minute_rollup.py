"""Per-minute counts of recent sales, kept by the writes themselves, so the windowed health checks stay flat in the
table's size (issue 15, DESIGN.md section 8).

``sales_minute_rollup`` holds, per minute of ``created_at`` (``date_bin`` on UTC minutes) and per shard, how many
sales there are and how many carry a server_id. Three statement-level triggers with transition tables add what an
INSERT brings, take away what a DELETE removes, and apply an UPDATE as "minus the old rows, plus the new ones" (the
backfill filling server_id, a created_at corrected), one upsert per statement whatever its row count; TRUNCATE
empties it. Only rows created within ``HORIZON`` of the writing transaction's start are counted: the checks read the
rollup only for minutes younger than the horizon less an hour (``monitoring.health_checks.ROLLUP_TRUSTED``), so a
write to an older sale (most of the backfill's) costs no rollup row and never makes a trusted minute wrong.

The shard is the writing backend's pid modulo 4: concurrent writers of the same minute mostly update different
rows, so the till's inserts do not queue behind one row lock until commit. The trigger functions are SECURITY
DEFINER (owned by the panel's user): BarTender's client role may insert sales without any right on the rollup.
Creating the triggers locks sales against writes until this migration commits, so the initial fill from the
existing rows misses no concurrent sale.
"""

from django.db import migrations

HORIZON = "48 hours"
ORIGIN = "timestamptz '2000-01-01 00:00:00+00'"
MINUTE = f"date_bin(interval '1 minute', created_at, {ORIGIN})"

CREATE = [
    """
    CREATE TABLE sales_minute_rollup (
      minute timestamptz NOT NULL,
      shard smallint NOT NULL,
      sales bigint NOT NULL,
      with_server_id bigint NOT NULL,
      PRIMARY KEY (minute, shard)
    ) WITH (fillfactor = 70)
    """,
    f"""
    CREATE FUNCTION sales_minute_rollup_apply() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
      horizon timestamptz := now() - interval '{HORIZON}';
    BEGIN
      IF TG_OP = 'INSERT' THEN
        INSERT INTO sales_minute_rollup AS r (minute, shard, sales, with_server_id)
        SELECT {MINUTE}, pg_backend_pid() % 4, count(*), count(server_id)
        FROM new_rows WHERE created_at >= horizon
        GROUP BY 1 ORDER BY 1
        ON CONFLICT (minute, shard) DO UPDATE
          SET sales = r.sales + excluded.sales, with_server_id = r.with_server_id + excluded.with_server_id;
      ELSIF TG_OP = 'DELETE' THEN
        INSERT INTO sales_minute_rollup AS r (minute, shard, sales, with_server_id)
        SELECT {MINUTE}, pg_backend_pid() % 4, -count(*), -count(server_id)
        FROM old_rows WHERE created_at >= horizon
        GROUP BY 1 ORDER BY 1
        ON CONFLICT (minute, shard) DO UPDATE
          SET sales = r.sales + excluded.sales, with_server_id = r.with_server_id + excluded.with_server_id;
      ELSE
        INSERT INTO sales_minute_rollup AS r (minute, shard, sales, with_server_id)
        SELECT minute, pg_backend_pid() % 4, sum(n), sum(s)
        FROM (SELECT {MINUTE} AS minute, 1 AS n, (server_id IS NOT NULL)::int AS s
              FROM new_rows WHERE created_at >= horizon
              UNION ALL
              SELECT {MINUTE}, -1, -(server_id IS NOT NULL)::int
              FROM old_rows WHERE created_at >= horizon) AS d
        GROUP BY minute
        HAVING sum(n) <> 0 OR sum(s) <> 0
        ORDER BY minute
        ON CONFLICT (minute, shard) DO UPDATE
          SET sales = r.sales + excluded.sales, with_server_id = r.with_server_id + excluded.with_server_id;
      END IF;
      RETURN NULL;
    END
    $$
    """,  # noqa: S608 (constants of this file)
    """
    CREATE FUNCTION sales_minute_rollup_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
      DELETE FROM sales_minute_rollup;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER sales_minute_rollup_insert AFTER INSERT ON sales
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sales_minute_rollup_apply()
    """,
    """
    CREATE TRIGGER sales_minute_rollup_update AFTER UPDATE ON sales
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION sales_minute_rollup_apply()
    """,
    """
    CREATE TRIGGER sales_minute_rollup_delete AFTER DELETE ON sales
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION sales_minute_rollup_apply()
    """,
    """
    CREATE TRIGGER sales_minute_rollup_truncate AFTER TRUNCATE ON sales
      FOR EACH STATEMENT EXECUTE FUNCTION sales_minute_rollup_truncate()
    """,
    # The rows already there, under the triggers' lock (no write can slip between the fill and the triggers).
    f"""
    INSERT INTO sales_minute_rollup (minute, shard, sales, with_server_id)
    SELECT {MINUTE}, 0, count(*), count(server_id)
    FROM sales WHERE created_at >= now() - interval '{HORIZON}'
    GROUP BY 1
    """,  # noqa: S608 (constants of this file)
]

DROP = [
    "DROP TRIGGER IF EXISTS sales_minute_rollup_truncate ON sales",
    "DROP TRIGGER IF EXISTS sales_minute_rollup_delete ON sales",
    "DROP TRIGGER IF EXISTS sales_minute_rollup_update ON sales",
    "DROP TRIGGER IF EXISTS sales_minute_rollup_insert ON sales",
    "DROP FUNCTION IF EXISTS sales_minute_rollup_truncate()",
    "DROP FUNCTION IF EXISTS sales_minute_rollup_apply()",
    "DROP TABLE IF EXISTS sales_minute_rollup",
]


class Migration(migrations.Migration):
    dependencies = [("adminpanel", "0013_rls_probe_role")]

    operations = [migrations.RunSQL(sql=CREATE, reverse_sql=DROP)]
