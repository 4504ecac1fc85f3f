"""Settings of server name mappings and the backfill (issues 3 and 4)."""

from adminpanel.config import env_bool, env_int, env_list  # noqa: F401 (the helpers every settings module reads with)
from config.settings.base import ENV

# --- Server name mappings and backfill (issues 3 and 4) ------------------------------------------

# Mappings (issue 3): coverage window, page sizes, CSV import limits.
MAPPINGS_COVERAGE_DAYS = int(ENV.get("MAPPINGS_COVERAGE_DAYS", "30"))
MAPPINGS_PAGE_SIZE = int(ENV.get("MAPPINGS_PAGE_SIZE", "100"))
MAPPINGS_UNMAPPED_PAGE_SIZE = int(ENV.get("MAPPINGS_UNMAPPED_PAGE_SIZE", "100"))
# Unmapped names shown on a bar's page (the full list has its own page).
MAPPINGS_UNMAPPED_ON_BAR_PAGE = int(ENV.get("MAPPINGS_UNMAPPED_ON_BAR_PAGE", "10"))
MAPPINGS_HISTORY_ON_BAR_PAGE = int(ENV.get("MAPPINGS_HISTORY_ON_BAR_PAGE", "20"))
MAPPINGS_IMPORT_MAX_BYTES = int(ENV.get("MAPPINGS_IMPORT_MAX_BYTES", str(5 * 1024 * 1024)))
MAPPINGS_IMPORT_MAX_ROWS = int(ENV.get("MAPPINGS_IMPORT_MAX_ROWS", "10000"))
# A previewed import not applied within this many hours is discarded.
MAPPINGS_IMPORT_TTL_HOURS = int(ENV.get("MAPPINGS_IMPORT_TTL_HOURS", "24"))
# Level of the audit_logs row each refused resolution writes (error_type `server_id_resolution`).
MAPPINGS_RESOLUTION_AUDIT_LEVEL = ENV.get("MAPPINGS_RESOLUTION_AUDIT_LEVEL", "error")

# Backfill (issue 4, DESIGN.md sections 6 and 7): keyset batches, each its own short transaction whose
# lock and statement timeouts keep every lock under a second; a timed-out batch is retried at half size.
BACKFILL_BATCH_SIZE = int(ENV.get("BACKFILL_BATCH_SIZE", "5000"))
BACKFILL_MIN_BATCH_SIZE = int(ENV.get("BACKFILL_MIN_BATCH_SIZE", "50"))
BACKFILL_LOCK_TIMEOUT_MS = int(ENV.get("BACKFILL_LOCK_TIMEOUT_MS", "500"))
BACKFILL_STATEMENT_TIMEOUT_MS = int(ENV.get("BACKFILL_STATEMENT_TIMEOUT_MS", "1000"))
BACKFILL_MAX_CONSECUTIVE_TIMEOUTS = int(ENV.get("BACKFILL_MAX_CONSECUTIVE_TIMEOUTS", "10"))
# One Celery task works this long, then hands over to the next task of the chain (never one task of hours).
BACKFILL_TASK_SECONDS = float(ENV.get("BACKFILL_TASK_SECONDS", "20"))
BACKFILL_VACUUM_AT_END = env_bool(ENV, "BACKFILL_VACUUM_AT_END", True)
BACKFILL_PROGRESS_POLL_SECONDS = int(ENV.get("BACKFILL_PROGRESS_POLL_SECONDS", "2"))
# A running run whose cursor has not moved for this long, with no worker driving it, is stalled: shown so, and
# handed back to the workers by the watchdog (backfill/recovery.py), which beat runs this often (and each worker
# start runs once).
BACKFILL_STALLED_AFTER_SECONDS = int(ENV.get("BACKFILL_STALLED_AFTER_SECONDS", "60"))
# Post-migration validation thresholds (runbook section 2.2).
BACKFILL_VALIDATION_MIN_POPULATION_PCT = float(ENV.get("BACKFILL_VALIDATION_MIN_POPULATION_PCT", "95"))
BACKFILL_VALIDATION_MAX_FAILED_ROWS = int(ENV.get("BACKFILL_VALIDATION_MAX_FAILED_ROWS", "0"))
BACKFILL_VALIDATION_STATEMENT_TIMEOUT_MS = int(ENV.get("BACKFILL_VALIDATION_STATEMENT_TIMEOUT_MS", "30000"))
# Log views: rows per keyset page, rows per export chunk, per-minute chart window.
LOGS_PAGE_SIZE = int(ENV.get("LOGS_PAGE_SIZE", "50"))
LOGS_EXPORT_CHUNK_ROWS = int(ENV.get("LOGS_EXPORT_CHUNK_ROWS", "5000"))
LOGS_CHART_MINUTES = int(ENV.get("LOGS_CHART_MINUTES", "60"))
LOGS_SUMMARY_STATEMENT_TIMEOUT_MS = int(ENV.get("LOGS_SUMMARY_STATEMENT_TIMEOUT_MS", "10000"))
