-- Undo step 4: server_id references users again without ON DELETE SET NULL (as step 1 left it).
ALTER TABLE public.sales DROP CONSTRAINT sales_server_id_fkey,
  ADD CONSTRAINT sales_server_id_fkey FOREIGN KEY (server_id) REFERENCES auth.users (id);
ALTER TABLE public.consignments DROP CONSTRAINT consignments_server_id_fkey,
  ADD CONSTRAINT consignments_server_id_fkey FOREIGN KEY (server_id) REFERENCES auth.users (id);
ALTER TABLE public.returns DROP CONSTRAINT returns_server_id_fkey,
  ADD CONSTRAINT returns_server_id_fkey FOREIGN KEY (server_id) REFERENCES auth.users (id);
