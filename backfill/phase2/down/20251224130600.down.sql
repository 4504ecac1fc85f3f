-- Undo step 6: drop the backfill's audit trail. The server_ids it filled stay until step 1 is undone.
DROP TABLE public.migration_server_id_log;
