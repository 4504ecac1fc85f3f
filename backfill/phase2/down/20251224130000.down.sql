-- Undo step 1: drop server_id (its foreign keys and indexes go with it). What was recorded in it is lost: run only
-- after the backfill's steps above it are undone, and only when the runbook says to roll migrations back.
ALTER TABLE public.sales DROP COLUMN server_id;
ALTER TABLE public.consignments DROP COLUMN server_id;
ALTER TABLE public.returns DROP COLUMN server_id;
