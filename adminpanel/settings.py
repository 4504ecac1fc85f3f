"""Settings for the BarTender Admin Panel.

Every deploy-time value comes from the environment; the defaults suit the local services that
``bin/dev`` starts under ``.var/`` (PostgreSQL on 127.0.0.1:54329, Redis on 127.0.0.1:63799).
"""

import os
from pathlib import Path

from adminpanel.config import database_from_url, env_bool, env_list, local_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / ".var"
ENV = os.environ

DEBUG = env_bool(ENV, "DEBUG", False)
SECRET_KEY = ENV.get("SECRET_KEY") or local_secret_key(VAR_DIR)
# Client API tokens are remembered per process this long (a revoked token stops working within it).
API_TOKEN_CACHE_SECONDS = int(ENV.get("API_TOKEN_CACHE_SECONDS", "30"))
ALLOWED_HOSTS = env_list(ENV, "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list(ENV, "CSRF_TRUSTED_ORIGINS", [])

LOCAL_PG_PORT = ENV.get("BARTENDER_PG_PORT", "54329")
LOCAL_REDIS_PORT = ENV.get("BARTENDER_REDIS_PORT", "63799")
DATABASE_URL = ENV.get("DATABASE_URL") or f"postgresql://bartender@127.0.0.1:{LOCAL_PG_PORT}/bartender"
REDIS_URL = ENV.get("REDIS_URL") or f"redis://127.0.0.1:{LOCAL_REDIS_PORT}/0"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_filters",
    "guardian",
    # One app per runbook concern; imports point one way: rollout → monitoring → backfill → mappings → adminpanel.
    "adminpanel",
    "mappings",
    "backfill",
    "monitoring",
    "rollout",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every page needs a login unless its view is marked @login_not_required (the client APIs).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "adminpanel.urls"
WSGI_APPLICATION = "adminpanel.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "adminpanel.roles.navigation",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(DATABASE_URL)}
# Persistent connections, checked before reuse: a restarted PostgreSQL needs no panel restart.
DATABASES["default"]["CONN_MAX_AGE"] = int(ENV.get("DB_CONN_MAX_AGE", "60"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
# One test database per pytest process unless named: parallel runs on one machine never share one.
DATABASES["default"]["TEST"] = {"NAME": ENV.get("TEST_DATABASE_NAME") or f"test_bartender_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "adminpanel.User"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# No guardian anonymous user: every page requires a login anyway.
ANONYMOUS_USER_NAME = None
GUARDIAN_RAISE_403 = False
# Bar objects carry the `mappings.manage_bar_mappings` permission (see mappings/access.py).
GUARDIAN_GET_CONTENT_TYPE = "mappings.access.guardian_content_type"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = ENV.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

SESSION_COOKIE_SECURE = env_bool(ENV, "SESSION_COOKIE_SECURE", False)
CSRF_COOKIE_SECURE = env_bool(ENV, "CSRF_COOKIE_SECURE", False)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Mail for alert notifications: SMTP when EMAIL_HOST is set, the console otherwise (Django 6.1 MAILERS).
if ENV.get("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": ENV["EMAIL_HOST"],
                "port": int(ENV.get("EMAIL_PORT", "25")),
                "username": ENV.get("EMAIL_HOST_USER", ""),
                "password": ENV.get("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool(ENV, "EMAIL_USE_TLS", False),
                "timeout": 10,
            },
        }
    }
else:
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
DEFAULT_FROM_EMAIL = ENV.get("DEFAULT_FROM_EMAIL", "bartender-panel@localhost")
ALERT_EMAILS = env_list(ENV, "ALERT_EMAILS", [])
ALERT_WEBHOOK_URL = ENV.get("ALERT_WEBHOOK_URL", "")

# Celery: Redis broker; see DESIGN.md section 5 for why these values.
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600, "socket_connect_timeout": 2, "socket_timeout": 5}
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 600
CELERY_TASK_SOFT_TIME_LIMIT = 540
CELERY_BEAT_SCHEDULE: dict = {}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": ENV.get("LOG_LEVEL", "INFO")},
}

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
# A running run whose cursor has not moved for this long is shown as stalled (worker down?).
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

# --- Health checks and alerts (issue 5): thresholds default to the runbook's ---------------------


def _env_float(name: str, default):
    raw = ENV.get(name)
    return default if raw in (None, "") else float(raw)


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
        "seqscan_min_rows": 10_000,  # a planned sequential scan on a table this big is a warning
    }.items()
}
# Expected share (%) of bars in simplified mode; empty = asked from the rollout stage when it says, else 0.
HEALTH_ADOPTION_EXPECTED_PCT = _env_float("HEALTH_ADOPTION_EXPECTED_PCT", None)
HEALTH_RLS_WINDOW_MINUTES = int(ENV.get("HEALTH_RLS_WINDOW_MINUTES", "60"))
HEALTH_CHECK_STATEMENT_TIMEOUT_MS = int(ENV.get("HEALTH_CHECK_STATEMENT_TIMEOUT_MS", "5000"))
HEALTH_STALE_AFTER_MINUTES = int(ENV.get("HEALTH_STALE_AFTER_MINUTES", "10"))
HEALTH_RUN_INTERVAL_SECONDS = int(ENV.get("HEALTH_RUN_INTERVAL_SECONDS", "300"))
# The run's hard time limit; the PostgreSQL advisory lock dies with the killed worker's session, so a crashed
# run never blocks the next one for longer than that.
HEALTH_TASK_TIME_LIMIT = int(ENV.get("HEALTH_TASK_TIME_LIMIT", "120"))
# Notifications: ALERT_EMAILS (mail, Django's MAILERS) and ALERT_WEBHOOK_URL (JSON POST) from the top of this file.
ALERT_WEBHOOK_TIMEOUT = _env_float("ALERT_WEBHOOK_TIMEOUT", 5.0)
ALERT_NOTIFY_ATTEMPTS = int(ENV.get("ALERT_NOTIFY_ATTEMPTS", "3"))  # tries per delivery, within one run
ALERT_NOTIFY_RETRY_DELAY = _env_float("ALERT_NOTIFY_RETRY_DELAY", 1.0)  # seconds, doubled after each try
ALERT_NOTIFY_MAX_ATTEMPTS = int(ENV.get("ALERT_NOTIFY_MAX_ATTEMPTS", "12"))  # across runs, then given up

CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "health-checks-every-5-minutes": {
        "task": "monitoring.run_health_checks",
        "schedule": float(HEALTH_RUN_INTERVAL_SECONDS),
        "kwargs": {"trigger": "schedule"},
        # Shorter than the interval: runs missed while the workers were down are dropped, not piled up.
        "options": {"expires": HEALTH_RUN_INTERVAL_SECONDS * 0.8},
    },
}


# --- Rollout (issue 6) -----------------------------------------------------------------------------
# When a critical alert opens while a stage above `off` is live, the kill switch fires by itself.
ROLLOUT_AUTO_ROLLBACK = env_bool(ENV, "ROLLOUT_AUTO_ROLLBACK", True)
# Flag API answers kept per process, dropped by LISTEN/NOTIFY on every committed change (rollout/flag_cache.py).
ROLLOUT_FLAG_CACHE = env_bool(ENV, "ROLLOUT_FLAG_CACHE", True)
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

# --- Runbook cockpit (issue 11): Phase 1 run by the panel, Phase 3's deployment check ---------------
# Where `pg_dump --format=custom` archives go (created 0700; each archive 0600: it holds the whole database).
BACKUP_DIR = Path(ENV.get("BACKUP_DIR") or VAR_DIR / "backups")
# Directory of pg_dump / pg_restore; empty = the binaries matching the server's major version
# (/usr/lib/postgresql/<major>/bin), else the ones on PATH.
PG_BINDIR = ENV.get("PG_BINDIR", "")
# Phase 3: the BarTender API health URL, polled for 200 and the build hash the deployer enters.
BARTENDER_HEALTH_URL = ENV.get("BARTENDER_HEALTH_URL", "")
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
