"""Per-minute counts of recent sales, kept by the writes themselves, so the windowed health checks stay flat in the
table's size (issue 15, DESIGN.md section 8).

``sales_minute_rollup`` holds, per minute of ``created_at`` (``date_bin`` on UTC minutes), how many sales there are
and how many carry a server_id, in one or a few rows per minute. Three statement-level triggers with transition
tables add what an INSERT brings, take away what a DELETE removes, and apply an UPDATE as "minus the old rows, plus
the new ones" (the backfill filling server_id, a created_at corrected), once per minute the statement touches;
TRUNCATE empties it. Only rows created within ``HORIZON`` of the writing transaction's start are counted: the checks
read the rollup only for minutes younger than the horizon less an hour (``monitoring.health_checks.ROLLUP_TRUSTED``),
so a write to an older sale (most of the backfill's) costs no rollup row and never makes a trusted minute wrong.

A writer adds its counts to the row (minute, slot) of a slot it holds: it tries the slots of the minute in turn with
a transaction-level advisory lock (``pg_try_advisory_xact_lock``, never waited for) and upserts the first it gets, so
no writer ever waits for another (a long transaction that counted a sale does not hold up the tills); a statement
touching more than four minutes (a bulk load, a backfill batch) uses a slot of its own transaction and takes no lock.
A minute has as many rows as writers were open in it at once. The trigger function is SECURITY DEFINER (owned by the
panel's user): BarTender's client role may insert sales without any right on the rollup.
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
      slot integer NOT NULL,
      sales bigint NOT NULL,
      with_server_id bigint NOT NULL,
      PRIMARY KEY (minute, slot)
    ) WITH (fillfactor = 70)
    """,
    "CREATE TYPE sales_minute_delta AS (minute timestamptz, n bigint, s bigint)",
    # One statement's counts for one minute. A writer first takes a slot of the minute that no other open
    # transaction holds (an advisory transaction lock, tried, never waited for), so its upsert of (minute, slot) can
    # never queue behind another transaction's row lock: a long transaction that counted a sale does not hold up the
    # tills. Statements touching many minutes use a slot of their own (from their transaction id) and take no lock.
    """
    CREATE FUNCTION sales_minute_rollup_add(p_minute timestamptz, p_sales bigint, p_with_server_id bigint,
                                            p_own_slot boolean)
    RETURNS void LANGUAGE plpgsql AS $$
    DECLARE
      v_slot integer := 0;
      minute_no bigint := (extract(epoch FROM p_minute)::bigint / 60) % 33554431;
    BEGIN
      IF p_own_slot THEN
        v_slot := 64 + (txid_current() % 1000000000)::integer;
      ELSE
        WHILE v_slot < 64 AND NOT pg_try_advisory_xact_lock(1919251317, (minute_no * 64 + v_slot)::integer) LOOP
          v_slot := v_slot + 1;
        END LOOP;
        IF v_slot = 64 THEN
          v_slot := 64 + (txid_current() % 1000000000)::integer;
        END IF;
      END IF;
      INSERT INTO sales_minute_rollup AS r (minute, slot, sales, with_server_id)
      VALUES (p_minute, v_slot, p_sales, p_with_server_id)
      ON CONFLICT (minute, slot) DO UPDATE
        SET sales = r.sales + excluded.sales, with_server_id = r.with_server_id + excluded.with_server_id;
    END
    $$
    """,
    f"""
    CREATE FUNCTION sales_minute_rollup_apply() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
      horizon timestamptz := now() - interval '{HORIZON}';
      deltas sales_minute_delta[];
      d record;
    BEGIN
      IF TG_OP = 'INSERT' THEN
        SELECT array_agg(ROW(x.minute, x.n, x.s)::sales_minute_delta ORDER BY x.minute) INTO deltas
        FROM (SELECT {MINUTE} AS minute, count(*) AS n, count(server_id) AS s
              FROM new_rows WHERE created_at >= horizon GROUP BY 1) AS x;
      ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(ROW(x.minute, x.n, x.s)::sales_minute_delta ORDER BY x.minute) INTO deltas
        FROM (SELECT {MINUTE} AS minute, -count(*) AS n, -count(server_id) AS s
              FROM old_rows WHERE created_at >= horizon GROUP BY 1) AS x;
      ELSE
        SELECT array_agg(ROW(x.minute, x.n, x.s)::sales_minute_delta ORDER BY x.minute) INTO deltas
        FROM (SELECT minute, sum(n) AS n, sum(s) AS s
              FROM (SELECT {MINUTE} AS minute, 1 AS n, (server_id IS NOT NULL)::int AS s
                    FROM new_rows WHERE created_at >= horizon
                    UNION ALL
                    SELECT {MINUTE}, -1, -(server_id IS NOT NULL)::int
                    FROM old_rows WHERE created_at >= horizon) AS delta
              GROUP BY minute HAVING sum(n) <> 0 OR sum(s) <> 0) AS x;
      END IF;
      -- A statement touching many minutes (a bulk load, a backfill batch) writes rows of its own transaction's slot
      -- instead of taking a lock per minute.
      FOR d IN SELECT * FROM unnest(deltas) LOOP
        PERFORM sales_minute_rollup_add(d.minute, d.n, d.s, coalesce(cardinality(deltas), 0) > 4);
      END LOOP;
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
    INSERT INTO sales_minute_rollup (minute, slot, sales, with_server_id)
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
    "DROP FUNCTION IF EXISTS sales_minute_rollup_add(timestamptz, bigint, bigint, boolean)",
    "DROP TABLE IF EXISTS sales_minute_rollup",
    "DROP TYPE IF EXISTS sales_minute_delta",
]


class Migration(migrations.Migration):
    dependencies = [("adminpanel", "0013_rls_probe_role")]

    operations = [migrations.RunSQL(sql=CREATE, reverse_sql=DROP)]
