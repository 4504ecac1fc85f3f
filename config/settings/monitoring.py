"""Settings of health checks and alerts (issue 5), Prometheus and Alertmanager (issue 23), incidents and escalation
(issue 12)."""

from adminpanel.config import env_bool, env_int, env_list  # noqa: F401 (the helpers every settings module reads with)
from config.settings.backfill import BACKFILL_STALLED_AFTER_SECONDS
from config.settings.base import ALERT_EMAILS, ALERT_WEBHOOK_URL, CELERY_BEAT_SCHEDULE, ENV, _env_float  # noqa: F401

# --- Health checks and alerts (issue 5): thresholds default to the runbook's ---------------------


# Runbook "Monitoring & Alerting" thresholds; each may be overridden by HEALTH_<NAME> in the environment.
HEALTH_THRESHOLDS = {
    name: _env_float(f"HEALTH_{name.upper()}", default)
    for name, default in {
        "resolution_error_rate_critical_pct": 5.0,  # server_id resolution errors, last 5 minutes
        "rls_violations_critical": 10,  # rls_violation audit logs in HEALTH_RLS_WINDOW_MINUTES
        "orphaned_sales_critical": 0,  # server_id NULL in simplified-mode bars, last hour
        "orphaned_fks_critical": 0,  # server_id that is not a user
        "db_connections_critical_pct": 80.0,  # pg_stat_activity / max_connections
        "coverage_critical_pct": 95.0,  # server_id coverage of the last 24 h (below: critical)
        "coverage_warning_pct": 98.0,  # (below: warning)
        "fallback_warning_pct": 10.0,  # fallback mappings in migration_server_id_log
        "serverid_errors_warning": 100,  # error logs mentioning serverId / server_id, last hour
        "error_rate_critical_pct": 1.0,  # error-level audit logs per sale, last 5 minutes
        "error_logs_warning": 0,  # error-level audit logs, last 5 minutes (above: warning)
        "query_latency_warning_ms": 50.0,  # pg_stat_statements mean time of RLS-bound statements (Week 1)
        "query_latency_critical_ms": 1000.0,  # (runbook: P95 > 1 s)
        "api_error_rate_critical_pct": 1.0,  # the API's 5xx share (runbook Phase 3: "> 1% → Immediate rollback")
        "api_error_rate_warning_pct": 0.1,  # (runbook Phase 3: should remain < 0.1 %)
        "api_p95_critical_ms": 1000.0,  # the API's P95 (runbook critical alert: > 1 second)
        "api_p95_warning_ms": 500.0,  # (runbook Phase 3: should remain < 500 ms)
        "seqscan_min_rows": 10_000,  # a planned sequential scan on a table this big is a warning
        "rls_enforcement_critical": 0,  # sampled users who see other than what RLS should show them (Day 1)
        "consignment_return_coverage_critical_pct": 95.0,  # consignments / returns with server_id (below: critical)
        "consignment_return_coverage_warning_pct": 98.0,  # (below: warning)
        "sales_bar_id_critical": 0,  # sales, consignments, returns without bar_id (runbook data validation)
        "migration_failures_warning_pct": 1.0,  # failed fallbacks in migration_server_id_log ("many failures")
    }.items()
}
# Minimum sample of each rate check (HEALTH_MIN_SAMPLE_<CHECK>): below it the check says "not enough data (3 sales)"
# and is never warning or critical, so one error among 3 sales cannot turn the panel red. Units: resolution
# attempts, sales (24 h), sales and error logs (5 min), backfilled sales, bars.
HEALTH_MIN_SAMPLES = {
    name: int(ENV.get(f"HEALTH_MIN_SAMPLE_{name.upper()}", str(default)))
    for name, default in {
        "resolution_error_rate": 20,  # 1 failure in 20 is the runbook's 5 %
        "server_id_coverage": 100,
        "error_logs": 100,  # 1 error in 100 operations is the runbook's 1 %
        "fallback_mappings": 20,
        "adoption_rate": 1,
        "consignment_return_coverage": 100,  # consignments or returns counted (each table judged from 100)
        "migration_failures": 20,  # backfilled rows
    }.items()
}
# Consecutive critical runs before a check's alert counts toward automatic action (kill switch, autopilot pause):
# HEALTH_CONSECUTIVE_FAILURES_<CHECK>. 1 for the runbook's critical alerts that count events which already
# happened in their window (its "Critical Alerts" 1, 2, 3 and 5, and Phase 3's "error rate > 1 % -> immediate
# rollback"); 2 for the rest, including the DB connection share: the runbook lists it as critical, but it is one
# instantaneous reading, and one run that read 81/100 connections under load must not pull the kill switch.
HEALTH_CONSECUTIVE_FAILURES_DEFAULT = int(ENV.get("HEALTH_CONSECUTIVE_FAILURES_DEFAULT", "2"))
HEALTH_CONSECUTIVE_FAILURES = {
    name: int(ENV.get(f"HEALTH_CONSECUTIVE_FAILURES_{name.upper()}", str(default)))
    for name, default in {
        "resolution_error_rate": 1,
        "rls_violations": 1,
        "orphaned_sales": 1,
        "query_latency": 1,
        "api_error_rate": 1,
        "error_logs": 1,
        "rls_enforcement": 1,  # a user seeing other people's sales is a breach at the first sighting
        "db_connections": HEALTH_CONSECUTIVE_FAILURES_DEFAULT,
        "orphaned_fks": HEALTH_CONSECUTIVE_FAILURES_DEFAULT,
        "rls_policies": HEALTH_CONSECUTIVE_FAILURES_DEFAULT,
        "server_id_coverage": HEALTH_CONSECUTIVE_FAILURES_DEFAULT,
    }.items()
}
# Expected share (%) of bars in simplified mode; empty = asked from the rollout stage when it says, else 0.
# The database roles BarTender's clients run as (Supabase: `authenticated`, `anon`); the query-latency check reads
# only their statements, so the panel's own maintenance never weighs on it.
QUERY_LATENCY_CLIENT_ROLES = env_list(ENV, "QUERY_LATENCY_CLIENT_ROLES", ["authenticated", "anon"])
# Automatic rollback (the kill switch) only where the flags are the cure (DESIGN §4d): resolution errors, new sales
# without server_id, serverId errors, RLS violations, the error rate. Any other critical check (latency, schema,
# connections, coverage) opens an incident for the tier that owns it and never flips a flag: rls_enforcement (a
# policy lets a user see others' sales: the policies are schema, the flags change none of them), sales_bar_id (rows
# RLS cannot scope: data), consignment_return_coverage (missing mappings or a backfill gap: data; the flags only
# stop new rows from getting a server_id) and migration_failures (history, and a warning only).
ROLLOUT_AUTO_ROLLBACK_CHECKS = env_list(
    ENV, "ROLLOUT_AUTO_ROLLBACK_CHECKS",
    ["resolution_error_rate", "orphaned_sales", "serverid_errors", "rls_violations", "error_logs", "api_error_rate"],
)  # fmt: skip
HEALTH_ADOPTION_EXPECTED_PCT = _env_float("HEALTH_ADOPTION_EXPECTED_PCT", None)
HEALTH_RLS_WINDOW_MINUTES = int(ENV.get("HEALTH_RLS_WINDOW_MINUTES", "60"))
# Day 1 "RLS enforcement": how many servers and how many managers each run samples, and the window of sales each of
# them is asked about (read through the (bar_id, created_at) index of their bars).
HEALTH_RLS_ENFORCEMENT_SAMPLE = int(ENV.get("HEALTH_RLS_ENFORCEMENT_SAMPLE", "3"))
HEALTH_RLS_ENFORCEMENT_WINDOW_HOURS = int(ENV.get("HEALTH_RLS_ENFORCEMENT_WINDOW_HOURS", "168"))
HEALTH_CHECK_STATEMENT_TIMEOUT_MS = int(ENV.get("HEALTH_CHECK_STATEMENT_TIMEOUT_MS", "5000"))
# The database role the "RLS client query latency" check, the Phase 1 load test and bench/rls.py run BarTender's
# client queries as, with `request.jwt.claims` set as PostgREST sets them: Supabase's `authenticated` (the panel's
# role must be a member of it). Each probe is cut after RLS_PROBE_TIMEOUT_MS (a cut probe counts as that long).
RLS_PROBE_ROLE = ENV.get("RLS_PROBE_ROLE", "authenticated")
RLS_PROBE_TIMEOUT_MS = int(ENV.get("RLS_PROBE_TIMEOUT_MS", "1000"))
HEALTH_RUN_INTERVAL_SECONDS = int(ENV.get("HEALTH_RUN_INTERVAL_SECONDS", "300"))
# Checks are "stale" (banner on every page, `manage.py healthcheck` exits 7) when the last run is older than this:
# two intervals by default (one missed run is allowed for, two are not).
HEALTH_STALE_AFTER_MINUTES = _env_float("HEALTH_STALE_AFTER_MINUTES", 2 * HEALTH_RUN_INTERVAL_SECONDS / 60)
# Beat has a worker run `monitoring.heartbeat` every WORKER_HEARTBEAT_SECONDS; when none finished within
# WORKER_STALE_AFTER_SECONDS, every page says "no worker" (a dead worker or a dead beat: nothing runs).
WORKER_HEARTBEAT_SECONDS = int(ENV.get("WORKER_HEARTBEAT_SECONDS", "30"))
WORKER_STALE_AFTER_SECONDS = int(ENV.get("WORKER_STALE_AFTER_SECONDS", str(3 * WORKER_HEARTBEAT_SECONDS)))
# The run's hard time limit; the PostgreSQL advisory lock dies with the killed worker's session, so a crashed
# run never blocks the next one for longer than that.
HEALTH_TASK_TIME_LIMIT = int(ENV.get("HEALTH_TASK_TIME_LIMIT", "120"))
# Notifications: ALERT_EMAILS (mail, Django's MAILERS) and ALERT_WEBHOOK_URL (JSON POST) from config.settings.base.
ALERT_WEBHOOK_TIMEOUT = _env_float("ALERT_WEBHOOK_TIMEOUT", 5.0)
ALERT_NOTIFY_ATTEMPTS = int(ENV.get("ALERT_NOTIFY_ATTEMPTS", "3"))  # tries per delivery, within one run
ALERT_NOTIFY_RETRY_DELAY = _env_float("ALERT_NOTIFY_RETRY_DELAY", 1.0)  # seconds, doubled after each try
ALERT_NOTIFY_MAX_ATTEMPTS = int(ENV.get("ALERT_NOTIFY_MAX_ATTEMPTS", "12"))  # across runs, then given up

CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "backfill-watchdog": {
        "task": "backfill.redrive_stalled",
        "schedule": float(BACKFILL_STALLED_AFTER_SECONDS),
        "kwargs": {"trigger": "schedule"},
        "options": {"expires": BACKFILL_STALLED_AFTER_SECONDS * 0.8},
    },
    "worker-heartbeat": {
        "task": "monitoring.heartbeat",
        "schedule": float(WORKER_HEARTBEAT_SECONDS),
        "options": {"expires": WORKER_HEARTBEAT_SECONDS * 0.8},
    },
    "health-checks-every-5-minutes": {
        "task": "monitoring.run_health_checks",
        "schedule": float(HEALTH_RUN_INTERVAL_SECONDS),
        "kwargs": {"trigger": "schedule"},
        # Shorter than the interval: runs missed while the workers were down are dropped, not piled up.
        "options": {"expires": HEALTH_RUN_INTERVAL_SECONDS * 0.8},
    },
}


# --- Prometheus and Alertmanager (issue 23) -------------------------------------------------------------------
# The scrape token of /metrics (Authorization: Bearer …). Empty: /metrics answers 404 (metrics are off).
METRICS_TOKEN = ENV.get("METRICS_TOKEN", "")
# Calls each Alertmanager trigger (/hooks/alertmanager/<secret>) may make per minute; more are refused (429).
ALERT_HOOK_CALLS_PER_MINUTE = int(ENV.get("ALERT_HOOK_CALLS_PER_MINUTE", "30"))


# --- Incidents and escalation (issue 12, DESIGN.md section 4c) -------------------------------------
# An incident nobody has acknowledged is escalated to the next tier of the contact chain after this many minutes,
# per severity (INCIDENT_ESCALATE_AFTER_MINUTES_CRITICAL, _HIGH, _MEDIUM).
INCIDENT_ESCALATE_AFTER_MINUTES = {
    severity: float(ENV.get(f"INCIDENT_ESCALATE_AFTER_MINUTES_{severity.upper()}", default))
    for severity, default in {"critical": "15", "high": "30", "medium": "60"}.items()
}
# The incident clock (beat): impact refresh, overdue-update reminders, escalation and delivery of notifications.
INCIDENT_CLOCK_INTERVAL_SECONDS = int(ENV.get("INCIDENT_CLOCK_INTERVAL_SECONDS", "60"))
# The root-cause page looks this far back before an incident began (the runbook's "last hour").
INCIDENT_RCA_LOOKBACK_MINUTES = int(ENV.get("INCIDENT_RCA_LOOKBACK_MINUTES", "60"))
INCIDENT_PAGE_SIZE = int(ENV.get("INCIDENT_PAGE_SIZE", "50"))
# Where people reach the panel (https://panel.example.com): incident mails and webhooks link to the incident there.
PANEL_URL = ENV.get("PANEL_URL", "").rstrip("/")

CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "incident-clock-every-minute": {
        "task": "monitoring.incident_clock",
        "schedule": float(INCIDENT_CLOCK_INTERVAL_SECONDS),
        # Shorter than the interval: ticks missed while the workers were down are dropped, not piled up.
        "options": {"expires": INCIDENT_CLOCK_INTERVAL_SECONDS * 0.8},
    },
}
