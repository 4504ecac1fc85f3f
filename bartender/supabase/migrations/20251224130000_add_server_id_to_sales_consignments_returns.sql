-- Mode Switching, step 1: who served each sale, consignment and return.
-- server_id references the BarTender user (auth.users) picked in simplified mode; NULL until set (new rows while
-- the feature flags are off, and history until the backfill of step 6). Step 4 makes the reference ON DELETE SET NULL.
ALTER TABLE public.sales ADD COLUMN server_id uuid CONSTRAINT sales_server_id_fkey REFERENCES auth.users (id);
ALTER TABLE public.consignments ADD COLUMN server_id uuid CONSTRAINT consignments_server_id_fkey REFERENCES auth.users (id);
ALTER TABLE public.returns ADD COLUMN server_id uuid CONSTRAINT returns_server_id_fkey REFERENCES auth.users (id);

-- A server's own rows by time (the runbook's health query 3 expects an index scan on server_id; the role-based
-- select policy of step 3 reads by it).
CREATE INDEX sales_server_id_created_idx ON public.sales (server_id, created_at);
CREATE INDEX consignments_server_id_created_idx ON public.consignments (server_id, created_at);
CREATE INDEX returns_server_id_created_idx ON public.returns (server_id, created_at);
