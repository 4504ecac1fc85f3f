-- Removes everything panel_support.sql put on BarTender's tables and in the panel's schema.
DROP TRIGGER IF EXISTS sales_minute_rollup_insert ON public.sales;
DROP TRIGGER IF EXISTS sales_minute_rollup_update ON public.sales;
DROP TRIGGER IF EXISTS sales_minute_rollup_delete ON public.sales;
DROP TRIGGER IF EXISTS sales_minute_rollup_truncate ON public.sales;
DO $$
BEGIN
  IF to_regclass('public.migration_server_id_log') IS NOT NULL THEN
    DROP TRIGGER IF EXISTS migration_log_counts_insert ON public.migration_server_id_log;
    DROP TRIGGER IF EXISTS migration_log_counts_update ON public.migration_server_id_log;
    DROP TRIGGER IF EXISTS migration_log_counts_delete ON public.migration_server_id_log;
    DROP TRIGGER IF EXISTS migration_log_counts_truncate ON public.migration_server_id_log;
  END IF;
END $$;
DROP TRIGGER IF EXISTS server_id_day_counts_insert ON public.consignments;
DROP TRIGGER IF EXISTS server_id_day_counts_update ON public.consignments;
DROP TRIGGER IF EXISTS server_id_day_counts_delete ON public.consignments;
DROP TRIGGER IF EXISTS server_id_day_counts_truncate ON public.consignments;
DROP TRIGGER IF EXISTS server_id_day_counts_insert ON public.returns;
DROP TRIGGER IF EXISTS server_id_day_counts_update ON public.returns;
DROP TRIGGER IF EXISTS server_id_day_counts_delete ON public.returns;
DROP TRIGGER IF EXISTS server_id_day_counts_truncate ON public.returns;
DROP TRIGGER IF EXISTS bars_operating_mode_changed ON public.bars;
DROP TRIGGER IF EXISTS bars_deleted ON public.bars;
DROP TRIGGER IF EXISTS bars_added ON public.bars;
DROP INDEX IF EXISTS public.sales_bar_server_name_idx;
DROP VIEW IF EXISTS @panel@.sales_minute_counts;
DROP TABLE IF EXISTS @panel@.sales_minute_rollup, @panel@.sales_minute_rollup_log, @panel@.migration_log_counts,
  @panel@.migration_log_summary, @panel@.server_id_day_counts;
DROP FUNCTION IF EXISTS @panel@.sales_minute_rollup_apply();
DROP FUNCTION IF EXISTS @panel@.sales_minute_rollup_log_sale();
DROP FUNCTION IF EXISTS @panel@.sales_minute_rollup_truncate();
DROP FUNCTION IF EXISTS @panel@.sales_minute_rollup_add(timestamptz, bigint, bigint, boolean);
DROP FUNCTION IF EXISTS @panel@.sales_minute_rollup_add(timestamptz, bigint, bigint, bigint, bigint, boolean);
DROP FUNCTION IF EXISTS @panel@.server_id_day_counts_apply();
DROP FUNCTION IF EXISTS @panel@.server_id_day_counts_truncate();
DROP FUNCTION IF EXISTS @panel@.migration_log_counts_apply();
DROP FUNCTION IF EXISTS @panel@.migration_log_counts_truncate();
DROP FUNCTION IF EXISTS @panel@.rollout_notify_bar_changed();
DROP FUNCTION IF EXISTS @panel@.rollout_notify_bar_added();
DROP TYPE IF EXISTS @panel@.sales_minute_delta;
DROP FUNCTION IF EXISTS @panel@.bar_flags_on(uuid);
DROP FUNCTION IF EXISTS @panel@.panel_support_version();
