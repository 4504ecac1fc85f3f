"""Settings for the BarTender Admin Panel.

Every deploy-time value comes from the environment; the defaults suit the local services that
``bin/dev`` starts under ``.var/`` (PostgreSQL on 127.0.0.1:25432, Redis on 127.0.0.1:26379). With ``DEBUG`` off
(the default) a ``SECRET_KEY`` must be given; ``HTTPS=1`` turns on what a site served over HTTPS needs.
"""

import os
from datetime import timedelta
from pathlib import Path

from django.utils.csp import CSP

from adminpanel.config import (
    database_from_url,
    direct_database_url,
    env_bool,
    env_int,
    env_list,
    panel_schema,
    secret_key,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / ".var"
ENV = os.environ

DEBUG = env_bool(ENV, "DEBUG", False)
SECRET_KEY = secret_key(ENV, debug=DEBUG, var_dir=VAR_DIR)
# Client API tokens are remembered per process at most this long (0: never); a revoked token stops working at once
# in every process anyway (LISTEN/NOTIFY, adminpanel/api_auth.py). New tokens expire after API_TOKEN_LIFETIME_DAYS.
API_TOKEN_CACHE_SECONDS = int(ENV.get("API_TOKEN_CACHE_SECONDS", "30"))
API_TOKEN_LIFETIME_DAYS = int(ENV.get("API_TOKEN_LIFETIME_DAYS", "365"))
# A confirmation token (risky rollout actions, the all-bars backfill) is bound to its user, action and state, used
# once, and expires after this many seconds (adminpanel/confirmations.py).
CONFIRMATION_MAX_AGE_SECONDS = int(ENV.get("CONFIRMATION_MAX_AGE_SECONDS", str(15 * 60)))
ALLOWED_HOSTS = env_list(ENV, "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list(ENV, "CSRF_TRUSTED_ORIGINS", [])

# Below 32768: Linux's ephemeral ports (32768-60999) are handed to client sockets, and one left in TIME_WAIT
# on the server's port makes a restarted PostgreSQL or Redis fail to bind.
LOCAL_PG_PORT = ENV.get("BARTENDER_PG_PORT", "25432")
LOCAL_REDIS_PORT = ENV.get("BARTENDER_REDIS_PORT", "26379")
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
    "axes",
    "django_filters",
    "guardian",
    # One app per runbook concern; imports point one way: rollout → monitoring → backfill → mappings → adminpanel.
    "adminpanel",
    "mappings",
    "backfill",
    "monitoring",
    "rollout",
    # The demo and development data: above every app, imported by nothing of the product (DESIGN §2).
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # The polled client APIs (/api/v1/flags, /api/v1/flags/snapshot, OFREP's /ofrep/v1/…) answer here:
    # token-authenticated, read-only, they need none of the session, CSRF, login, messages, htmx or axes layers
    # below (rollout/api.py).
    "rollout.flags.api.ClientApiFastPath",
    # Static files straight after the security headers, before sessions and logins (whitenoise's advice).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Idle timeout and absolute lifetime of a session; Cache-Control: no-store on every page behind a login.
    "adminpanel.sessions.PrivatePages",
    # A page's repeated reads (latest health run, open critical alerts, kill switch) answered once per GET.
    "adminpanel.request_memo.RequestMemoMiddleware",
    # Every page needs a login unless its view is marked @login_not_required (the client APIs).
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a refused (locked-out) login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                # The "checks are stale / no worker" banner on every page (read lazily, only by base.html).
                "monitoring.context_processors.pipeline",
                # csp_nonce for the Django admin's few nonce-carrying <style>/<script> tags (the panel has none).
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASES = {"default": database_from_url(DATABASE_URL)}
# Persistent connections, checked before reuse: a restarted PostgreSQL needs no panel restart. Each serving
# thread keeps at most one, so the server's fixed workers x threads bound them (adminpanel/serving.py checks the
# sum against max_connections before serving).
DATABASES["default"]["CONN_MAX_AGE"] = int(ENV.get("DB_CONN_MAX_AGE", "60"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# The web server's sizes (bin/dev passes them to granian): worker processes x threads each. `manage.py
# check_serving` refuses to serve when they, the Celery processes and DB_CONNECTION_HEADROOM (psql, migrations,
# commands) could hold more than 80 % of PostgreSQL's max_connections (adminpanel/serving.py).
WEB_WORKERS = env_int(ENV, "WEB_WORKERS", os.cpu_count() or 1)
WEB_THREADS = env_int(ENV, "WEB_THREADS", 2)
# The client APIs' own server (deploy/supervisor/api.conf, on API_PORT): devices poll it while people load pages on
# the web server, so their answers never wait behind a page (bench/load.py measures both at once). 0 = none.
API_WORKERS = env_int(ENV, "API_WORKERS", 1)
API_THREADS = env_int(ENV, "API_THREADS", 4)
DB_CONNECTION_HEADROOM = env_int(ENV, "DB_CONNECTION_HEADROOM", 5)
DATABASES["default"]["OPTIONS"].setdefault("connect_timeout", 5)
# One test database per pytest process unless named: parallel runs on one machine never share one.
# DESIGN §1: the panel's own tables live in their own schema of BarTender's database. Django migrations create and
# change only PANEL_SCHEMA (`manage.py migrate` creates it and makes it the first entry of the panel role's
# search_path in that database); BarTender's `public` and `auth` are read and written as they are. The search_path
# is also sent at connect time, except through a pooler in transaction mode (DATABASE_POOLED=1: PgBouncer refuses
# the `options` start-up parameter), where the role's own setting applies.
PANEL_SCHEMA = panel_schema(ENV)
DATABASE_POOLED = env_bool(ENV, "DATABASE_POOLED", False)
if not DATABASE_POOLED:
    DATABASES["default"]["OPTIONS"]["options"] = f"-c search_path={PANEL_SCHEMA},public"
else:
    # PgBouncer in transaction mode: each transaction may land on another server connection, so no prepared
    # statements (psycopg prepares none with prepare_threshold None) and no server-side cursors (they live past a
    # transaction in a `.iterator()`).
    DATABASES["default"]["OPTIONS"]["prepare_threshold"] = None
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = True
# What needs a session of its own (LISTEN for the flag and token caches, session advisory locks): a direct
# connection when the main one goes through a pooler in transaction mode (required then: adminpanel/db_sessions.py).
DATABASE_DIRECT_URL = direct_database_url(ENV, pooled=DATABASE_POOLED)
# The product's migration files (a checkout of BarTender's supabase/migrations/); the project's own renditions
# serve the stand-in, the tests and the demo.
BARTENDER_MIGRATIONS_DIR = Path(
    ENV.get("BARTENDER_MIGRATIONS_DIR") or BASE_DIR / "bartender" / "supabase" / "migrations"
)
# Each Phase 2 step runs in one transaction under these timeouts (a step waiting on a busy table gives up instead of
# queueing every client behind its lock).
PHASE2_LOCK_TIMEOUT_MS = env_int(ENV, "PHASE2_LOCK_TIMEOUT_MS", 5_000)
PHASE2_STATEMENT_TIMEOUT_MS = env_int(ENV, "PHASE2_STATEMENT_TIMEOUT_MS", 600_000)
DATABASES["default"]["TEST"] = {"NAME": ENV.get("TEST_DATABASE_NAME") or f"test_bartender_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "adminpanel.User"

AUTHENTICATION_BACKENDS = [
    # First: refuses any login (panel or Django admin) while its username + address is locked out.
    "axes.backends.AxesStandaloneBackend",
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

# Sessions (issue 25): a panel session ends after SESSION_IDLE_TIMEOUT_SECONDS without a request (default 8 hours)
# and, whatever the activity, SESSION_ABSOLUTE_LIFETIME_SECONDS after the login (default 24 hours; Django's own
# cookie lifetime is the same, so the browser forgets it too).
SESSION_IDLE_TIMEOUT_SECONDS = env_int(ENV, "SESSION_IDLE_TIMEOUT_SECONDS", 8 * 3600)
SESSION_ABSOLUTE_LIFETIME_SECONDS = env_int(ENV, "SESSION_ABSOLUTE_LIFETIME_SECONDS", 24 * 3600)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_LIFETIME_SECONDS

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = ENV.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(ENV.get("STATIC_ROOT") or BASE_DIR / "staticfiles")
# whitenoise serves what `collectstatic` gathered, with hashed names cached for a year. Tests and DEBUG keep the
# plain storage, so no collectstatic is needed before them.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": ENV.get("STATICFILES_BACKEND")
        or (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- HTTPS and browser hardening (`manage.py check --deploy` is clean with HTTPS=1 and the values below) ----------
# HTTPS=1: the panel is reached over HTTPS (directly or through a TLS proxy). It sets the defaults of the
# switches below, each of which may still be set on its own.
HTTPS = env_bool(ENV, "HTTPS", False)
SECURE_SSL_REDIRECT = env_bool(ENV, "SECURE_SSL_REDIRECT", HTTPS)
SESSION_COOKIE_SECURE = env_bool(ENV, "SESSION_COOKIE_SECURE", HTTPS)
CSRF_COOKIE_SECURE = env_bool(ENV, "CSRF_COOKIE_SECURE", HTTPS)
# A refused form is a page of the panel, also with DEBUG on (Django's debug CSRF page speaks to developers).
CSRF_FAILURE_VIEW = "adminpanel.error_pages.csrf_failure"
SECURE_HSTS_SECONDS = env_int(ENV, "SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool(ENV, "SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
# Preloading is a promise to browsers' built-in lists that is slow to take back: only when asked for.
SECURE_HSTS_PRELOAD = env_bool(ENV, "SECURE_HSTS_PRELOAD", False)
# Behind a TLS-terminating proxy: SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https" (the proxy must set or
# strip that header on every request, or a client could claim HTTPS itself).
if ENV.get("SECURE_PROXY_SSL_HEADER"):
    _header, _, _value = ENV["SECURE_PROXY_SSL_HEADER"].partition(":")
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + _header.strip().upper().replace("-", "_"), _value.strip())
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# Content-Security-Policy (Django 6): scripts and styles only from the panel's own static files; no inline
# <script>, <style>, style= or on*= anywhere (tests/test_csp.py scans every template). The nonce serves the Django
# admin's own few nonce-carrying tags. htmx is told not to inject its indicator <style> (base.html's htmx-config).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# --- Logins: django-axes throttles both the panel login and the Django admin login --------------------------
# After AXES_FAILURE_LIMIT failed logins for one username from one address, that pair is refused (HTTP 429 and
# the lockout page) for AXES_COOLOFF_MINUTES; a superuser sees and lifts lockouts in the Django admin
# ("Access attempts": deleting the row unlocks, and is audited).
AXES_FAILURE_LIMIT = env_int(ENV, "AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int(ENV, "AXES_COOLOFF_MINUTES", 15))
# Comma-separated criteria, "+" combines: "username+ip_address" (default) locks a username from one address,
# so an attacker elsewhere cannot lock a colleague out; add ",ip_address" to also stop one address trying many
# usernames (then everyone behind one office NAT shares that address's budget).
AXES_LOCKOUT_PARAMETERS = [
    item.split("+") if "+" in item else item
    for item in env_list(ENV, "AXES_LOCKOUT_PARAMETERS", ["username+ip_address"])
]
AXES_RESET_ON_SUCCESS = True
# The lockout page (429, in the panel's layout, with Retry-After): adminpanel/logins.py.
AXES_LOCKOUT_CALLABLE = "adminpanel.logins.lockout_response"
# Every failed login kept (with "locked out" or not), also after a lockout is lifted.
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Registered by adminpanel/admin_lockouts.py instead, with the panel's admin audit.
AXES_ENABLE_ADMIN = False
AXES_VERBOSE = False  # no start-up banner in every command; lockouts are still logged

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
# Pool processes of `celery worker` (bin/dev starts it without --concurrency, so this is what runs).
CELERY_WORKER_CONCURRENCY = env_int(ENV, "CELERY_CONCURRENCY", 2)
# Disjoint key ranges a full backfill drives side by side (one per worker process by default).
BACKFILL_RANGES = env_int(ENV, "BACKFILL_RANGES", CELERY_WORKER_CONCURRENCY)
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
# Notifications: ALERT_EMAILS (mail, Django's MAILERS) and ALERT_WEBHOOK_URL (JSON POST) from the top of this file.
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
