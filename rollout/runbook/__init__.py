"""The runbook cockpit and the steps the panel runs: Phase 1 to Phase 3, the 4a checklist, code rollback (Option B)."""
