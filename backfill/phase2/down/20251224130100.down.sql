-- Undo step 2.
DROP TABLE public.server_name_mappings;
