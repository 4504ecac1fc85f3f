-- Mode Switching, step 4: deleting a user keeps the sales they served (server_id becomes NULL).
ALTER TABLE public.sales DROP CONSTRAINT sales_server_id_fkey,
  ADD CONSTRAINT sales_server_id_fkey FOREIGN KEY (server_id) REFERENCES auth.users (id) ON DELETE SET NULL;
ALTER TABLE public.consignments DROP CONSTRAINT consignments_server_id_fkey,
  ADD CONSTRAINT consignments_server_id_fkey FOREIGN KEY (server_id) REFERENCES auth.users (id) ON DELETE SET NULL;
ALTER TABLE public.returns DROP CONSTRAINT returns_server_id_fkey,
  ADD CONSTRAINT returns_server_id_fkey FOREIGN KEY (server_id) REFERENCES auth.users (id) ON DELETE SET NULL;
