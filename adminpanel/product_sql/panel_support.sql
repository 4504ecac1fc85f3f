-- What the panel needs on BarTender's tables for its own checks and caches: a reviewed file of its own, applied
-- by the panel once Phase 2's schema is there (steps 1 and 6), removed before either is rolled back
-- (`panel_support.down.sql`), never hidden in a Django migration. Every table, type and function lives in the
-- panel's schema (@panel@); only the triggers and one index sit on the product's tables. Idempotent: it removes
-- what a previous copy left, then creates.
--
-- * per-minute counts of recent sales, kept by the writes themselves, so windowed health checks stay flat in the
--   table's size: a sale insert appends one row to sales_minute_rollup_log (a row trigger, only for sales created
--   in the last 48 hours); updates and deletes apply "minus old, plus new" per minute to sales_minute_rollup by
--   statement; the health run folds the log into the rollup. A writer takes a slot of the minute by a tried
--   advisory transaction lock (never waited for), so no till ever waits for another transaction's row lock.
--   The functions are SECURITY DEFINER: BarTender's client roles may insert sales without any right here.
--   Each minute also counts apart the sales written while their bar's flags were on (bar_flags_on: simplified
--   mode and ENABLE_SWITCHING_MODE on for the bar), the only new sales that must carry a server_id (runbook:
--   with the flags off, sales are created without one). An insert is classed by the flags at that moment; an
--   update or delete by the flags at its own moment (a sale written before a flag change and edited after it is
--   classed by the later state: the only inexactness, and no till edits its sales).
-- * per-day counts of consignments and returns, with and without server_id, split the same way, kept by
--   statement triggers in eight shards (by backend), so their coverage check reads a few rows per day.
-- * totals of the backfill's log (migration_server_id_log) in four shards, kept by statement triggers, and its
--   summary by (bar, fallback used, reason, resolved) from which the log's pages read the runbook's root-cause
--   figures without scanning millions of rows (rows inserted in key order, so two writers lock in the same order).
-- * NOTIFY on channel bartender_flags when a bar's operating mode changes, a bar is deleted or bars are added, so
--   every serving process's flag cache drops what changed on commit.
-- * sales (bar_id, server_name): the unmapped-names page reads names typed per bar without a scan.

DROP TRIGGER IF EXISTS sales_minute_rollup_insert ON public.sales;
DROP TRIGGER IF EXISTS sales_minute_rollup_update ON public.sales;
DROP TRIGGER IF EXISTS sales_minute_rollup_delete ON public.sales;
DROP TRIGGER IF EXISTS sales_minute_rollup_truncate ON public.sales;
DROP TRIGGER IF EXISTS migration_log_counts_insert ON public.migration_server_id_log;
DROP TRIGGER IF EXISTS migration_log_counts_update ON public.migration_server_id_log;
DROP TRIGGER IF EXISTS migration_log_counts_delete ON public.migration_server_id_log;
DROP TRIGGER IF EXISTS migration_log_counts_truncate ON public.migration_server_id_log;
DROP TRIGGER IF EXISTS bars_operating_mode_changed ON public.bars;
DROP TRIGGER IF EXISTS bars_deleted ON public.bars;
DROP TRIGGER IF EXISTS bars_added ON public.bars;
DROP TRIGGER IF EXISTS server_id_day_counts_insert ON public.consignments;
DROP TRIGGER IF EXISTS server_id_day_counts_update ON public.consignments;
DROP TRIGGER IF EXISTS server_id_day_counts_delete ON public.consignments;
DROP TRIGGER IF EXISTS server_id_day_counts_truncate ON public.consignments;
DROP TRIGGER IF EXISTS server_id_day_counts_insert ON public.returns;
DROP TRIGGER IF EXISTS server_id_day_counts_update ON public.returns;
DROP TRIGGER IF EXISTS server_id_day_counts_delete ON public.returns;
DROP TRIGGER IF EXISTS server_id_day_counts_truncate ON public.returns;
DROP VIEW IF EXISTS @panel@.sales_minute_counts;
DROP TABLE IF EXISTS @panel@.sales_minute_rollup, @panel@.sales_minute_rollup_log, @panel@.migration_log_counts,
  @panel@.migration_log_summary, @panel@.server_id_day_counts;
DROP FUNCTION IF EXISTS @panel@.sales_minute_rollup_add(timestamptz, bigint, bigint, boolean);
DROP FUNCTION IF EXISTS @panel@.sales_minute_rollup_add(timestamptz, bigint, bigint, bigint, bigint, boolean);
DROP TYPE IF EXISTS @panel@.sales_minute_delta CASCADE;

-- Whether a bar's flags are on, as the rollout decides it (rollout.selectors.FLAGS_FOR_BAR_SQL): the bar is in
-- simplified mode and ENABLE_SWITCHING_MODE is on for it (not killed; on for every bar, or the bar allow-listed).
-- Plain SQL, so a query that calls it per row gets it inlined.
-- This copy's version: raise it with every change, so a database holding an older copy gets this one on migrate
-- (adminpanel.panel_schema.support_current).
CREATE OR REPLACE FUNCTION @panel@.panel_support_version() RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 3';

CREATE OR REPLACE FUNCTION @panel@.bar_flags_on(p_bar uuid) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM @panel@.feature_flags f
                 WHERE f.key = 'ENABLE_SWITCHING_MODE' AND NOT f.kill_switch_engaged
                   AND (f.enabled_globally
                        OR EXISTS (SELECT 1 FROM @panel@.feature_flag_bars fb
                                   WHERE fb.featureflag_id = f.id AND fb.bar_id = p_bar)))
     AND EXISTS (SELECT 1 FROM public.bars b WHERE b.id = p_bar AND b.settings->>'operatingMode' = 'simplified')
$$;

CREATE TABLE @panel@.sales_minute_rollup (
  minute timestamptz NOT NULL,
  slot integer NOT NULL,
  sales bigint NOT NULL,
  with_server_id bigint NOT NULL,
  flagged bigint NOT NULL DEFAULT 0,
  flagged_with_server_id bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (minute, slot)
) WITH (fillfactor = 70);

CREATE TABLE @panel@.sales_minute_rollup_log (
  minute timestamptz NOT NULL,
  sales integer NOT NULL,
  with_server_id integer NOT NULL,
  flagged integer NOT NULL DEFAULT 0,
  flagged_with_server_id integer NOT NULL DEFAULT 0
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 20000);

CREATE VIEW @panel@.sales_minute_counts AS
  SELECT minute, sales, with_server_id, flagged, flagged_with_server_id FROM @panel@.sales_minute_rollup
  UNION ALL
  SELECT minute, sales, with_server_id, flagged, flagged_with_server_id FROM @panel@.sales_minute_rollup_log;

CREATE TYPE @panel@.sales_minute_delta AS (minute timestamptz, n bigint, s bigint, fn bigint, fs bigint);

CREATE FUNCTION @panel@.sales_minute_rollup_add(p_minute timestamptz, p_sales bigint, p_with_server_id bigint,
                                                p_flagged bigint, p_flagged_with_server_id bigint,
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
  INSERT INTO @panel@.sales_minute_rollup AS r (minute, slot, sales, with_server_id, flagged, flagged_with_server_id)
  VALUES (p_minute, v_slot, p_sales, p_with_server_id, p_flagged, p_flagged_with_server_id)
  ON CONFLICT (minute, slot) DO UPDATE
    SET sales = r.sales + excluded.sales, with_server_id = r.with_server_id + excluded.with_server_id,
        flagged = r.flagged + excluded.flagged,
        flagged_with_server_id = r.flagged_with_server_id + excluded.flagged_with_server_id;
END
$$;

CREATE OR REPLACE FUNCTION @panel@.sales_minute_rollup_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @panel@, public, pg_temp AS $$
DECLARE
  horizon timestamptz := now() - interval '48 hours';
  deltas sales_minute_delta[];
  d record;
BEGIN
  IF TG_OP = 'DELETE' THEN
    SELECT array_agg(ROW(x.minute, x.n, x.s, x.fn, x.fs)::sales_minute_delta ORDER BY x.minute) INTO deltas
    FROM (SELECT minute, -count(*) AS n, -count(server_id) AS s, -count(*) FILTER (WHERE f) AS fn,
                 -count(server_id) FILTER (WHERE f) AS fs
          FROM (SELECT date_bin(interval '1 minute', created_at, timestamptz '2000-01-01 00:00:00+00') AS minute,
                       server_id, bar_flags_on(bar_id) AS f
                FROM old_rows WHERE created_at >= horizon) AS o
          GROUP BY 1) AS x;
  ELSE
    SELECT array_agg(ROW(x.minute, x.n, x.s, x.fn, x.fs)::sales_minute_delta ORDER BY x.minute) INTO deltas
    FROM (SELECT minute, sum(n) AS n, sum(s) AS s, sum(n * f) AS fn, sum(s * f) AS fs
          FROM (SELECT date_bin(interval '1 minute', created_at, timestamptz '2000-01-01 00:00:00+00') AS minute,
                       1 AS n, (server_id IS NOT NULL)::int AS s, bar_flags_on(bar_id)::int AS f
                FROM new_rows WHERE created_at >= horizon
                UNION ALL
                SELECT date_bin(interval '1 minute', created_at, timestamptz '2000-01-01 00:00:00+00'),
                       -1, -(server_id IS NOT NULL)::int, bar_flags_on(bar_id)::int
                FROM old_rows WHERE created_at >= horizon) AS delta
          GROUP BY minute HAVING sum(n) <> 0 OR sum(s) <> 0 OR sum(n * f) <> 0 OR sum(s * f) <> 0) AS x;
  END IF;
  -- A statement touching many minutes (a bulk load, a backfill batch) writes rows of its own transaction's slot
  -- instead of taking a lock per minute.
  FOR d IN SELECT * FROM unnest(deltas) LOOP
    PERFORM sales_minute_rollup_add(d.minute, d.n, d.s, d.fn, d.fs, coalesce(cardinality(deltas), 0) > 4);
  END LOOP;
  RETURN NULL;
END
$$;

-- Schema-qualified names instead of a SET search_path clause: this runs for every sale the tills record.
CREATE OR REPLACE FUNCTION @panel@.sales_minute_rollup_log_sale() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  s integer := CASE WHEN NEW.server_id IS NULL THEN 0 ELSE 1 END;
  f integer;
BEGIN
  -- bar_flags_on's body written out: PL/pgSQL keeps this statement's plan for the session, where a call of the SQL
  -- function would be planned again for every sale (0.3 ms more per insert, measured).
  SELECT CASE WHEN EXISTS (SELECT 1 FROM @panel@.feature_flags ff
                           WHERE ff.key = 'ENABLE_SWITCHING_MODE' AND NOT ff.kill_switch_engaged
                             AND (ff.enabled_globally
                                  OR EXISTS (SELECT 1 FROM @panel@.feature_flag_bars fb
                                             WHERE fb.featureflag_id = ff.id AND fb.bar_id = NEW.bar_id)))
                   AND EXISTS (SELECT 1 FROM public.bars b
                               WHERE b.id = NEW.bar_id AND b.settings->>'operatingMode' = 'simplified')
              THEN 1 ELSE 0 END
  INTO f;
  INSERT INTO @panel@.sales_minute_rollup_log (minute, sales, with_server_id, flagged, flagged_with_server_id)
  VALUES (pg_catalog.date_bin('1 minute'::pg_catalog.interval, NEW.created_at,
                              '2000-01-01 00:00:00+00'::pg_catalog.timestamptz),
          1, s, f, s * f);
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION @panel@.sales_minute_rollup_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @panel@, pg_temp AS $$
BEGIN
  DELETE FROM sales_minute_rollup;
  DELETE FROM sales_minute_rollup_log;
  RETURN NULL;
END
$$;

CREATE TRIGGER sales_minute_rollup_insert AFTER INSERT ON public.sales FOR EACH ROW
  WHEN (NEW.created_at >= now() - interval '48 hours')
  EXECUTE FUNCTION @panel@.sales_minute_rollup_log_sale();
CREATE TRIGGER sales_minute_rollup_update AFTER UPDATE ON public.sales
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @panel@.sales_minute_rollup_apply();
CREATE TRIGGER sales_minute_rollup_delete AFTER DELETE ON public.sales
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION @panel@.sales_minute_rollup_apply();
CREATE TRIGGER sales_minute_rollup_truncate AFTER TRUNCATE ON public.sales
  FOR EACH STATEMENT EXECUTE FUNCTION @panel@.sales_minute_rollup_truncate();

-- The rows already there, under the triggers' lock (no write slips between the fill and the triggers).
INSERT INTO @panel@.sales_minute_rollup (minute, slot, sales, with_server_id, flagged, flagged_with_server_id)
SELECT minute, 0, sum(n), sum(s), coalesce(sum(n) FILTER (WHERE @panel@.bar_flags_on(bar_id)), 0),
       coalesce(sum(s) FILTER (WHERE @panel@.bar_flags_on(bar_id)), 0)
FROM (SELECT date_bin(interval '1 minute', created_at, timestamptz '2000-01-01 00:00:00+00') AS minute, bar_id,
             count(*) AS n, count(server_id) AS s
      FROM public.sales WHERE created_at >= now() - interval '48 hours' GROUP BY 1, 2) AS per_bar
GROUP BY 1;

CREATE TABLE @panel@.migration_log_counts (
  shard smallint PRIMARY KEY,
  logged bigint NOT NULL,
  fallbacks bigint NOT NULL,
  failed bigint NOT NULL
);

CREATE TABLE @panel@.migration_log_summary (
  shard smallint NOT NULL,
  bar_id uuid,
  fallback_used boolean NOT NULL,
  fallback_reason text,
  resolved boolean NOT NULL,
  logged bigint NOT NULL,
  UNIQUE NULLS NOT DISTINCT (shard, bar_id, fallback_used, fallback_reason, resolved)
);

CREATE OR REPLACE FUNCTION @panel@.migration_log_counts_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @panel@, public, pg_temp AS $$
DECLARE
  n bigint := 0; f bigint := 0; x bigint := 0;
  o_n bigint; o_f bigint; o_x bigint;
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT count(*), count(*) FILTER (WHERE fallback_used),
           count(*) FILTER (WHERE fallback_used AND fallback_reason LIKE '%failed%')
      INTO n, f, x FROM new_rows;
  END IF;
  IF TG_OP IN ('DELETE', 'UPDATE') THEN
    SELECT count(*), count(*) FILTER (WHERE fallback_used),
           count(*) FILTER (WHERE fallback_used AND fallback_reason LIKE '%failed%')
      INTO o_n, o_f, o_x FROM old_rows;
    n := n - o_n; f := f - o_f; x := x - o_x;
  END IF;
  IF TG_OP = 'INSERT' THEN
    INSERT INTO migration_log_summary AS s (shard, bar_id, fallback_used, fallback_reason, resolved, logged)
    SELECT pg_backend_pid() % 4, bar_id, fallback_used, fallback_reason, resolved_server_id IS NOT NULL, count(*)
    FROM new_rows GROUP BY 2, 3, 4, 5 ORDER BY 2, 3, 4, 5
    ON CONFLICT (shard, bar_id, fallback_used, fallback_reason, resolved) DO UPDATE SET logged = s.logged + excluded.logged;
  ELSIF TG_OP = 'UPDATE' THEN
    INSERT INTO migration_log_summary AS s (shard, bar_id, fallback_used, fallback_reason, resolved, logged)
    SELECT pg_backend_pid() % 4, bar_id, fallback_used, fallback_reason, resolved, sum(d) FROM (
      SELECT bar_id, fallback_used, fallback_reason, resolved_server_id IS NOT NULL AS resolved, -1 AS d FROM old_rows
      UNION ALL
      SELECT bar_id, fallback_used, fallback_reason, resolved_server_id IS NOT NULL, 1 FROM new_rows) AS delta
    GROUP BY 2, 3, 4, 5 HAVING sum(d) <> 0 ORDER BY 2, 3, 4, 5
    ON CONFLICT (shard, bar_id, fallback_used, fallback_reason, resolved) DO UPDATE SET logged = s.logged + excluded.logged;
  ELSE
    INSERT INTO migration_log_summary AS s (shard, bar_id, fallback_used, fallback_reason, resolved, logged)
    SELECT pg_backend_pid() % 4, bar_id, fallback_used, fallback_reason, resolved_server_id IS NOT NULL, -count(*)
    FROM old_rows GROUP BY 2, 3, 4, 5 ORDER BY 2, 3, 4, 5
    ON CONFLICT (shard, bar_id, fallback_used, fallback_reason, resolved) DO UPDATE SET logged = s.logged + excluded.logged;
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
$$;

CREATE OR REPLACE FUNCTION @panel@.migration_log_counts_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @panel@, pg_temp AS $$
BEGIN
  DELETE FROM migration_log_counts;
  DELETE FROM migration_log_summary;
  RETURN NULL;
END
$$;

CREATE TRIGGER migration_log_counts_insert AFTER INSERT ON public.migration_server_id_log
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION @panel@.migration_log_counts_apply();
CREATE TRIGGER migration_log_counts_update AFTER UPDATE ON public.migration_server_id_log
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION @panel@.migration_log_counts_apply();
CREATE TRIGGER migration_log_counts_delete AFTER DELETE ON public.migration_server_id_log
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION @panel@.migration_log_counts_apply();
CREATE TRIGGER migration_log_counts_truncate AFTER TRUNCATE ON public.migration_server_id_log
  FOR EACH STATEMENT EXECUTE FUNCTION @panel@.migration_log_counts_truncate();

INSERT INTO @panel@.migration_log_counts (shard, logged, fallbacks, failed)
SELECT 0, count(*), count(*) FILTER (WHERE fallback_used),
       count(*) FILTER (WHERE fallback_used AND fallback_reason LIKE '%failed%')
FROM public.migration_server_id_log;

INSERT INTO @panel@.migration_log_summary (shard, bar_id, fallback_used, fallback_reason, resolved, logged)
SELECT 0, bar_id, fallback_used, fallback_reason, resolved_server_id IS NOT NULL, count(*)
FROM public.migration_server_id_log GROUP BY 2, 3, 4, 5;

-- Consignments and returns per day (UTC), with and without server_id, apart for the rows written while their bar's
-- flags were on; eight shards (by backend) so that concurrent tills rarely wait for one another's counter row.
CREATE TABLE @panel@.server_id_day_counts (
  tbl text NOT NULL,
  day date NOT NULL,
  flagged boolean NOT NULL,
  shard smallint NOT NULL,
  rows bigint NOT NULL,
  with_server_id bigint NOT NULL,
  PRIMARY KEY (tbl, day, flagged, shard)
);

CREATE OR REPLACE FUNCTION @panel@.server_id_day_counts_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @panel@, public, pg_temp AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO server_id_day_counts AS c (tbl, day, flagged, shard, rows, with_server_id)
    SELECT TG_TABLE_NAME, (created_at AT TIME ZONE 'UTC')::date, bar_flags_on(bar_id), (pg_backend_pid() % 8)::smallint,
           count(*), count(server_id)
    FROM new_rows GROUP BY 2, 3
    ON CONFLICT (tbl, day, flagged, shard) DO UPDATE
      SET rows = c.rows + excluded.rows, with_server_id = c.with_server_id + excluded.with_server_id;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO server_id_day_counts AS c (tbl, day, flagged, shard, rows, with_server_id)
    SELECT TG_TABLE_NAME, (created_at AT TIME ZONE 'UTC')::date, bar_flags_on(bar_id), (pg_backend_pid() % 8)::smallint,
           -count(*), -count(server_id)
    FROM old_rows GROUP BY 2, 3
    ON CONFLICT (tbl, day, flagged, shard) DO UPDATE
      SET rows = c.rows + excluded.rows, with_server_id = c.with_server_id + excluded.with_server_id;
  ELSE
    INSERT INTO server_id_day_counts AS c (tbl, day, flagged, shard, rows, with_server_id)
    SELECT TG_TABLE_NAME, day, f, (pg_backend_pid() % 8)::smallint, sum(n), sum(s)
    FROM (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, bar_flags_on(bar_id) AS f, 1 AS n,
                 (server_id IS NOT NULL)::int AS s FROM new_rows
          UNION ALL
          SELECT (created_at AT TIME ZONE 'UTC')::date, bar_flags_on(bar_id), -1, -(server_id IS NOT NULL)::int
          FROM old_rows) AS delta
    GROUP BY day, f HAVING sum(n) <> 0 OR sum(s) <> 0
    ON CONFLICT (tbl, day, flagged, shard) DO UPDATE
      SET rows = c.rows + excluded.rows, with_server_id = c.with_server_id + excluded.with_server_id;
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION @panel@.server_id_day_counts_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = @panel@, pg_temp AS $$
BEGIN
  DELETE FROM server_id_day_counts WHERE tbl = TG_TABLE_NAME;
  RETURN NULL;
END
$$;

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['consignments', 'returns'] LOOP
    EXECUTE format('CREATE TRIGGER server_id_day_counts_insert AFTER INSERT ON public.%I REFERENCING NEW TABLE AS '
                   'new_rows FOR EACH STATEMENT EXECUTE FUNCTION @panel@.server_id_day_counts_apply()', t);
    EXECUTE format('CREATE TRIGGER server_id_day_counts_update AFTER UPDATE ON public.%I REFERENCING OLD TABLE AS '
                   'old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION '
                   '@panel@.server_id_day_counts_apply()', t);
    EXECUTE format('CREATE TRIGGER server_id_day_counts_delete AFTER DELETE ON public.%I REFERENCING OLD TABLE AS '
                   'old_rows FOR EACH STATEMENT EXECUTE FUNCTION @panel@.server_id_day_counts_apply()', t);
    EXECUTE format('CREATE TRIGGER server_id_day_counts_truncate AFTER TRUNCATE ON public.%I FOR EACH STATEMENT '
                   'EXECUTE FUNCTION @panel@.server_id_day_counts_truncate()', t);
    -- The rows already there, classed by the flags now, under the triggers' lock; one flag look-up per bar and day.
    EXECUTE format($f$INSERT INTO @panel@.server_id_day_counts (tbl, day, flagged, shard, rows, with_server_id)
      SELECT %1$L, day, @panel@.bar_flags_on(bar_id), 0, sum(n), sum(s)
      FROM (SELECT (created_at AT TIME ZONE 'UTC')::date AS day, bar_id, count(*) AS n, count(server_id) AS s
            FROM public.%1$I GROUP BY 1, 2) AS per_bar
      GROUP BY 2, 3$f$, t);
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION @panel@.rollout_notify_bar_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('bartender_flags', COALESCE(NEW.id, OLD.id)::text);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION @panel@.rollout_notify_bar_added() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('bartender_flags', 'bar-added');
  RETURN NULL;
END $$;

CREATE TRIGGER bars_operating_mode_changed AFTER UPDATE OF settings ON public.bars FOR EACH ROW
  WHEN ((OLD.settings->>'operatingMode') IS DISTINCT FROM (NEW.settings->>'operatingMode'))
  EXECUTE FUNCTION @panel@.rollout_notify_bar_changed();
CREATE TRIGGER bars_deleted AFTER DELETE ON public.bars FOR EACH ROW
  EXECUTE FUNCTION @panel@.rollout_notify_bar_changed();
CREATE TRIGGER bars_added AFTER INSERT ON public.bars FOR EACH STATEMENT
  EXECUTE FUNCTION @panel@.rollout_notify_bar_added();

CREATE INDEX IF NOT EXISTS sales_bar_server_name_idx ON public.sales (bar_id, server_name) INCLUDE (created_at)
  WHERE server_name IS NOT NULL;
