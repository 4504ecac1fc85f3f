"""A sale's INSERT costs the rollup one append, not a statement trigger and an upsert (issue 15: "whatever adds work
to writes must show its cost on the sales insert path", at most 5 %).

Migration 0014 counted inserts with a statement-level trigger: a transition table, an aggregate over it, an advisory
slot and an upsert per statement; on the Phase 1 load test (single-row inserts at 100 sales/s under RLS) that made
the insert p50 16 % slower (this: 2.2-6 %, see bench/health_suite.py --insert-cost). Inserts now go through a row-level trigger whose ``WHEN`` clause (evaluated without
calling any function) skips sales older than the rollup's horizon, and which appends one row to
``sales_minute_rollup_log``: no unique index, no conflict check, no row lock, so a till never waits for anything. The
health run folds the log into ``sales_minute_rollup`` (``monitoring.health_checks.compact_sales_rollup``: one
statement that deletes the log rows it sees and adds them up per minute, so a row is counted in exactly one of the
two tables whatever runs beside it) and the checks read both tables through the view ``sales_minute_counts``.
UPDATE, DELETE and TRUNCATE keep 0014's statement triggers (the backfill's batches, corrections: rare and in bulk);
TRUNCATE now empties the log too.
"""

from django.db import migrations

HORIZON = "48 hours"  # as 0014
MINUTE = (
    "pg_catalog.date_bin('1 minute'::pg_catalog.interval, NEW.created_at, "
    "'2000-01-01 00:00:00+00'::pg_catalog.timestamptz)"
)

FORWARD = [
    """
    CREATE TABLE sales_minute_rollup_log (
      minute timestamptz NOT NULL,
      sales integer NOT NULL,
      with_server_id integer NOT NULL
    ) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000)
    """,
    # SECURITY DEFINER (BarTender's client role inserts sales with no right on the log) without a SET search_path
    # clause: every name is schema-qualified (the table in public, the function and types in pg_catalog; no operator),
    # so the caller's search_path cannot reach it, and the call skips the per-call GUC save and restore a SET clause
    # costs (measured: insert p50 +5.5 % with it, +4.5 % without, on the Phase 1 load test).
    f"""
    CREATE FUNCTION sales_minute_rollup_log_sale() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
    BEGIN
      INSERT INTO public.sales_minute_rollup_log (minute, sales, with_server_id)
      VALUES ({MINUTE}, 1, CASE WHEN NEW.server_id IS NULL THEN 0 ELSE 1 END);
      RETURN NULL;
    END
    $$
    """,  # noqa: S608 (constants of this file)
    "DROP TRIGGER sales_minute_rollup_insert ON sales",
    f"""
    CREATE TRIGGER sales_minute_rollup_insert AFTER INSERT ON sales FOR EACH ROW
      WHEN (NEW.created_at >= now() - interval '{HORIZON}') EXECUTE FUNCTION sales_minute_rollup_log_sale()
    """,
    """
    CREATE OR REPLACE FUNCTION sales_minute_rollup_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
      DELETE FROM sales_minute_rollup;
      DELETE FROM sales_minute_rollup_log;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE VIEW sales_minute_counts AS
      SELECT minute, sales, with_server_id FROM sales_minute_rollup
      UNION ALL
      SELECT minute, sales, with_server_id FROM sales_minute_rollup_log
    """,
]

BACKWARD = [
    # The log's rows go back into the rollup first, so nothing counted is lost.
    """
    INSERT INTO sales_minute_rollup AS r (minute, slot, sales, with_server_id)
    SELECT minute, -1, sum(sales), sum(with_server_id) FROM sales_minute_rollup_log GROUP BY minute
    ON CONFLICT (minute, slot) DO UPDATE
      SET sales = r.sales + excluded.sales, with_server_id = r.with_server_id + excluded.with_server_id
    """,
    "DROP VIEW sales_minute_counts",
    "DROP TRIGGER sales_minute_rollup_insert ON sales",
    """
    CREATE TRIGGER sales_minute_rollup_insert AFTER INSERT ON sales
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION sales_minute_rollup_apply()
    """,
    """
    CREATE OR REPLACE FUNCTION sales_minute_rollup_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
      DELETE FROM sales_minute_rollup;
      RETURN NULL;
    END
    $$
    """,
    "DROP FUNCTION sales_minute_rollup_log_sale()",
    "DROP TABLE sales_minute_rollup_log",
]


class Migration(migrations.Migration):
    dependencies = [("adminpanel", "0015_migration_log_counts")]

    operations = [migrations.RunSQL(sql=FORWARD, reverse_sql=BACKWARD)]
