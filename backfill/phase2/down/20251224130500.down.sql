-- Undo step 5.
DROP INDEX public.idx_bars_operating_mode;
