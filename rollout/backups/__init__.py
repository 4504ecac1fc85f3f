"""Database backups (Phase 1) and restores of them: the Phase 2 dry run, the rehearsal and Option C."""
