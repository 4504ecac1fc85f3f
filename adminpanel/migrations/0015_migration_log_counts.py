"""The backfill log's three counts (rows, fallbacks, failed fallbacks), kept by the writes themselves, so the
"fallback mappings" health check reads four rows instead of counting a million (issue 15, DESIGN.md section 8).

``migration_log_counts`` holds the counts per shard (the writing backend's pid modulo 4, so parallel backfill
workers mostly update different rows). Statement-level triggers with transition tables add an INSERT's rows, take
away a DELETE's, apply an UPDATE as "minus the old rows, plus the new ones" (one upsert per statement, whatever its
row count), and TRUNCATE empties it. "Failed" is the check's definition: a fallback whose reason says it failed
(runbook validation 4, ``fallback_reason LIKE '%failed%'``). The functions are SECURITY DEFINER, so whoever may write
the log need no right on the counts. Creating the triggers locks the log against writes until this migration
commits, so the initial count misses no concurrent row.
"""

from django.db import migrations

COUNTS = (
    "count(*), count(*) FILTER (WHERE fallback_used), "
    "count(*) FILTER (WHERE fallback_used AND fallback_reason LIKE '%failed%')"
)

CREATE = [
    """
    CREATE TABLE migration_log_counts (
      shard smallint PRIMARY KEY,
      logged bigint NOT NULL,
      fallbacks bigint NOT NULL,
      failed bigint NOT NULL
    )
    """,
    f"""
    CREATE FUNCTION migration_log_counts_apply() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    DECLARE
      n bigint := 0; f bigint := 0; x bigint := 0;
      o_n bigint; o_f bigint; o_x bigint;
    BEGIN
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT {COUNTS} INTO n, f, x FROM new_rows;
      END IF;
      IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT {COUNTS} INTO o_n, o_f, o_x FROM old_rows;
        n := n - o_n; f := f - o_f; x := x - o_x;
      END IF;
      IF n <> 0 OR f <> 0 OR x <> 0 THEN
        INSERT INTO migration_log_counts AS c (shard, logged, fallbacks, failed)
        VALUES (pg_backend_pid() % 4, n, f, x)
        ON CONFLICT (shard) DO UPDATE
          SET logged = c.logged + excluded.logged, fallbacks = c.fallbacks + excluded.fallbacks,
              failed = c.failed + excluded.failed;
      END IF;
      RETURN NULL;
    END
    $$
    """,  # noqa: S608 (constants of this file)
    """
    CREATE FUNCTION migration_log_counts_truncate() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    BEGIN
      DELETE FROM migration_log_counts;
      RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER migration_log_counts_insert AFTER INSERT ON migration_server_id_log
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION migration_log_counts_apply()
    """,
    """
    CREATE TRIGGER migration_log_counts_update AFTER UPDATE ON migration_server_id_log
      REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
      FOR EACH STATEMENT EXECUTE FUNCTION migration_log_counts_apply()
    """,
    """
    CREATE TRIGGER migration_log_counts_delete AFTER DELETE ON migration_server_id_log
      REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION migration_log_counts_apply()
    """,
    """
    CREATE TRIGGER migration_log_counts_truncate AFTER TRUNCATE ON migration_server_id_log
      FOR EACH STATEMENT EXECUTE FUNCTION migration_log_counts_truncate()
    """,
    f"INSERT INTO migration_log_counts (shard, logged, fallbacks, failed) SELECT 0, {COUNTS} "  # noqa: S608
    "FROM migration_server_id_log",
]

DROP = [
    "DROP TRIGGER IF EXISTS migration_log_counts_truncate ON migration_server_id_log",
    "DROP TRIGGER IF EXISTS migration_log_counts_delete ON migration_server_id_log",
    "DROP TRIGGER IF EXISTS migration_log_counts_update ON migration_server_id_log",
    "DROP TRIGGER IF EXISTS migration_log_counts_insert ON migration_server_id_log",
    "DROP FUNCTION IF EXISTS migration_log_counts_truncate()",
    "DROP FUNCTION IF EXISTS migration_log_counts_apply()",
    "DROP TABLE IF EXISTS migration_log_counts",
]


class Migration(migrations.Migration):
    dependencies = [("adminpanel", "0014_sales_minute_rollup")]

    operations = [migrations.RunSQL(sql=CREATE, reverse_sql=DROP)]
