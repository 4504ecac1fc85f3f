"""Settings of the rollout (issue 6), cohort vs control and the autopilot (issue 13), the runbook cockpit (issue 11)."""

from pathlib import Path

from adminpanel.config import env_bool, env_int, env_list  # noqa: F401 (the helpers every settings module reads with)
from config.settings.base import ENV, VAR_DIR, _env_float
from config.settings.monitoring import CELERY_BEAT_SCHEDULE

# --- Rollout (issue 6) -----------------------------------------------------------------------------
# When a critical alert opens while a stage above `off` is live, the kill switch fires by itself.
ROLLOUT_AUTO_ROLLBACK = env_bool(ENV, "ROLLOUT_AUTO_ROLLBACK", True)
# Stage 4b goes in batches of this many bars when no batch size is given (the runbook's "LIMIT 10 -- Still
# gradual"); 0 = the whole stage at once. The page offers larger batches.
ROLLOUT_4B_BATCH_SIZE = env_int(ENV, "ROLLOUT_4B_BATCH_SIZE", 10)
# Escalation by the fault's kind (runbook contact chain): the tier paged at once, by its position in the chain, for a
# database fault (a critical schema or capacity check) and for customer impact (an automatic rollback while bars are
# switched). Time-based escalation carries on from there.
# "Update status page": a webhook the panel posts status-page updates to (the incident's outbox retries it); unset,
# the incident page says to update it by hand.
STATUS_PAGE_WEBHOOK_URL = ENV.get("STATUS_PAGE_WEBHOOK_URL", "")
INCIDENT_DATABASE_TIER_POSITION = env_int(ENV, "INCIDENT_DATABASE_TIER_POSITION", 2)
INCIDENT_CUSTOMER_TIER_POSITION = env_int(ENV, "INCIDENT_CUSTOMER_TIER_POSITION", 3)
DATABASE_FAULT_CHECKS = env_list(
    ENV, "DATABASE_FAULT_CHECKS",
    ["rls_policies", "orphaned_fks", "indexes_usable", "db_connections", "query_latency", "rls_client_latency",
     "rls_enforcement", "sales_bar_id"],
)  # fmt: skip
# Flag API answers kept per process, dropped by LISTEN/NOTIFY on every committed change (rollout/flag_cache.py).
ROLLOUT_FLAG_CACHE = env_bool(ENV, "ROLLOUT_FLAG_CACHE", True)
# With PostgreSQL unreachable the flag API answers the last flags this process read, marked stale with their age, for
# at most this many seconds (0: never; then 503 with Retry-After), and never "on" once a kill switch was seen.
FLAG_API_STALE_MAX_SECONDS = float(ENV.get("FLAG_API_STALE_MAX_SECONDS", "300"))
# Caches fed by LISTEN/NOTIFY (flags, API tokens) stop serving when PostgreSQL has not been heard from this long
# on the listener's connection (a heartbeat every second keeps it fresh): the bound on a stale answer when a
# notification is lost to a silently dead connection (adminpanel/pg_notify.py).
LISTEN_MAX_SILENCE_SECONDS = float(ENV.get("LISTEN_MAX_SILENCE_SECONDS", "3"))
# Minimum soak of each stage before the next one may start (hours; ROLLOUT_SOAK_HOURS_4A, _4B, _4C).
ROLLOUT_SOAK_HOURS = {
    stage: float(ENV.get(f"ROLLOUT_SOAK_HOURS_{stage.upper()}", "24")) for stage in ("4a", "4b", "4c")
}
# The gate wants the latest finished health run younger than this.
ROLLOUT_HEALTH_FRESHNESS_MINUTES = float(ENV.get("ROLLOUT_HEALTH_FRESHNESS_MINUTES", "10"))
# Share of bars (hash buckets 0-99 below this) in stage 4b.
ROLLOUT_HALF_PERCENT = int(ENV.get("ROLLOUT_HALF_PERCENT", "50"))
# Health checks (issue 5) whose values fill the deployment record's "Monitoring Results (First 24 hours)":
# "check" reads the result's value, "check.key" a key of its detail.
ROLLOUT_RECORD_CHECKS = {
    "error_rate": ENV.get("ROLLOUT_RECORD_CHECK_ERROR_RATE", "error_logs.error_rate_pct"),
    "server_id_coverage": ENV.get("ROLLOUT_RECORD_CHECK_COVERAGE", "server_id_coverage"),
    "rls_violations": ENV.get("ROLLOUT_RECORD_CHECK_RLS", "rls_violations"),
    "latency_ms": ENV.get("ROLLOUT_RECORD_CHECK_LATENCY", "query_latency"),
}

# --- Cohort vs control and the autopilot (issue 13) --------------------------------------------------------------
# The switched bars are compared with the eligible bars not yet switched over the current stage (at most this many
# hours back); a metric says "harm" when a one-sided exact two-proportion test gives a p-value below its share of
# the false-alarm rate (split evenly over the three metrics) and the difference is at least its minimum effect.
ROLLOUT_COHORT_WINDOW_HOURS = float(ENV.get("ROLLOUT_COHORT_WINDOW_HOURS", "24"))
ROLLOUT_COHORT_FALSE_ALARM_RATE = float(ENV.get("ROLLOUT_COHORT_FALSE_ALARM_RATE", "0.01"))
# Each side needs this many sales (coverage, sales rate) or sales and errors (error rate) before it is judged.
ROLLOUT_COHORT_MIN_SAMPLE = {
    metric: int(ENV.get(f"ROLLOUT_COHORT_MIN_SAMPLE_{metric.upper()}", "200"))
    for metric in ("coverage", "error_rate", "sales_rate")
}
# Smallest worsening that counts as harm: coverage and error rate in percentage points, sales per bar per hour as a
# relative drop in % (beyond the control's own change).
ROLLOUT_COHORT_MIN_EFFECT = {
    metric: float(ENV.get(f"ROLLOUT_COHORT_MIN_EFFECT_{metric.upper()}", default))
    for metric, default in (("coverage", "1"), ("error_rate", "0.5"), ("sales_rate", "10"))
}
# Whether starting a new stage needs "no evidence of harm" (on) or only the absence of harm (off): "not enough data
# yet" then closes the gate for a new stage (overridable like every gate); a next batch within a stage needs only
# the absence of harm.
ROLLOUT_COHORT_GATE_NEEDS_DATA = env_bool(ENV, "ROLLOUT_COHORT_GATE_NEEDS_DATA", True)
# The comparison reads a day of sales: pages and a person's advance use the stored figures while they are this
# young (the beat refreshes them every tick; the autopilot always reads fresh ones), and the read is cut off after
# this long (it then says "not enough data yet": a new stage stays closed).
ROLLOUT_COHORT_MAX_AGE_SECONDS = float(ENV.get("ROLLOUT_COHORT_MAX_AGE_SECONDS", "120"))
ROLLOUT_COHORT_STATEMENT_TIMEOUT_MS = int(ENV.get("ROLLOUT_COHORT_STATEMENT_TIMEOUT_MS", "20000"))
# The autopilot's beat tick, and the pause it keeps between two automatic batches of one stage.
ROLLOUT_AUTOPILOT_INTERVAL_SECONDS = int(ENV.get("ROLLOUT_AUTOPILOT_INTERVAL_SECONDS", "60"))
ROLLOUT_AUTOPILOT_BATCH_SOAK_MINUTES = float(ENV.get("ROLLOUT_AUTOPILOT_BATCH_SOAK_MINUTES", "60"))
ROLLOUT_AUTOPILOT_TASK_TIME_LIMIT = int(ENV.get("ROLLOUT_AUTOPILOT_TASK_TIME_LIMIT", "120"))
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "rollout-autopilot-tick": {
        "task": "rollout.autopilot_tick",
        "schedule": float(ROLLOUT_AUTOPILOT_INTERVAL_SECONDS),
        # Shorter than the interval: ticks missed while the workers were down are dropped, never run in a burst
        # (and a late tick would find the lock or the soak anyway).
        "options": {"expires": ROLLOUT_AUTOPILOT_INTERVAL_SECONDS * 0.8},
    },
}


# --- Runbook cockpit (issue 11): Phase 1 run by the panel, Phase 3's deployment check ---------------
# Where `pg_dump --format=custom` archives go (created 0700; each archive 0600: it holds the whole database).
BACKUP_DIR = Path(ENV.get("BACKUP_DIR") or VAR_DIR / "backups")
# Directory of pg_dump / pg_restore; empty = the binaries matching the server's major version
# (/usr/lib/postgresql/<major>/bin), else the ones on PATH.
PG_BINDIR = ENV.get("PG_BINDIR", "")
# BarTender's schemas: what a backup's checksums cover and what the real restore (rollback Option C) replaces. The
# dry run of Phase 2 and the restore rehearsal restore the archive into SCRATCH_DATABASE (default: the panel's
# database name + "_scratch", created and dropped each time on the same server; the role needs CREATEDB).
BARTENDER_SCHEMAS = env_list(ENV, "BARTENDER_SCHEMAS", ["public", "auth", "supabase_migrations"])
SCRATCH_DATABASE = ENV.get("SCRATCH_DATABASE", "")
RESTORE_TIMEOUT_SECONDS = env_int(ENV, "RESTORE_TIMEOUT_SECONDS", 3 * 3600)
# Phase 3: the BarTender API health URL, polled for 200 and the build hash the deployer enters.
BARTENDER_HEALTH_URL = ENV.get("BARTENDER_HEALTH_URL", "")
# The API's own figures (DESIGN §4d): a Prometheus HTTP API and one PromQL query per figure (a single number:
# aggregate in the query). Unset: the api_error_rate and api_p95_latency checks say "not configured" (inconclusive).
PROMETHEUS_URL = ENV.get("PROMETHEUS_URL", "")
PROMETHEUS_TIMEOUT_SECONDS = _env_float("PROMETHEUS_TIMEOUT_SECONDS", 5.0)
PROMETHEUS_API_ERROR_RATE_QUERY = ENV.get(
    "PROMETHEUS_API_ERROR_RATE_QUERY",
    # `or vector(0)`: an API that has never answered a 5xx has no such series, and its error rate is 0, not unknown.
    '100 * (sum(rate(http_requests_total{status=~"5.."}[5m])) or vector(0)) / sum(rate(http_requests_total[5m]))',
)
PROMETHEUS_API_P95_QUERY = ENV.get(
    "PROMETHEUS_API_P95_QUERY",
    "1000 * histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))",
)
# Rollback Option B: a CI/CD webhook the panel POSTs {"build", "reason", "requested_by"} to (with the token as a
# bearer header when set) to deploy an earlier build; then the health URL is polled until it serves that build.
# Unset: the rollout page shows the runbook's manual procedure.
BARTENDER_DEPLOY_HOOK_URL = ENV.get("BARTENDER_DEPLOY_HOOK_URL", "")
BARTENDER_DEPLOY_HOOK_TOKEN = ENV.get("BARTENDER_DEPLOY_HOOK_TOKEN", "")
BARTENDER_DEPLOY_HOOK_TIMEOUT_SECONDS = _env_float("BARTENDER_DEPLOY_HOOK_TIMEOUT_SECONDS", 15.0)
PHASE3_POLL_SECONDS = _env_float("PHASE3_POLL_SECONDS", 5.0)
PHASE3_POLL_TIMEOUT_SECONDS = _env_float("PHASE3_POLL_TIMEOUT_SECONDS", 300.0)
PHASE3_HTTP_TIMEOUT_SECONDS = _env_float("PHASE3_HTTP_TIMEOUT_SECONDS", 5.0)
# Phase 1 load test: sales per second and seconds (the runbook's 100/s; 60 s), the RLS latency target, and the
# non-owner database role it runs as (empty = a temporary NOLOGIN role it creates and drops: needs CREATEROLE).
LOAD_TEST_RATE = int(ENV.get("LOAD_TEST_RATE", "100"))
LOAD_TEST_SECONDS = int(ENV.get("LOAD_TEST_SECONDS", "60"))
LOAD_TEST_MAX_SECONDS = int(ENV.get("LOAD_TEST_MAX_SECONDS", "600"))
LOAD_TEST_TARGET_MS = _env_float("LOAD_TEST_TARGET_MS", 50.0)
LOAD_TEST_DB_ROLE = ENV.get("LOAD_TEST_DB_ROLE", "")
# A running step whose heartbeat is older than this is shown as stalled (worker lost) and may be run again.
RUNBOOK_STALLED_AFTER_SECONDS = int(ENV.get("RUNBOOK_STALLED_AFTER_SECONDS", "120"))
# Hard limit of one step's Celery task (a backup of a large database takes a while).
RUNBOOK_TASK_TIME_LIMIT = int(ENV.get("RUNBOOK_TASK_TIME_LIMIT", "7200"))
# How often the cockpit refreshes itself (htmx polling; held while someone types in it).
COCKPIT_POLL_SECONDS = int(ENV.get("COCKPIT_POLL_SECONDS", "5"))
