"""Runbook Phase 2 (2.1 and 2.2) run by the panel: the six migration files, applied one by one in the runbook's
order, each verified by the runbook's own query, recorded as the Supabase CLI records them, and undone in reverse
order by the panel's down scripts (``down/``)."""
