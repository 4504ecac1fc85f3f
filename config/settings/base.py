"""Settings for the BarTender Admin Panel: the project's own (core, database, serving, security, logins,
notifications, Celery); each app's settings are in the modules beside this one, read in order by ``__init__``.

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

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / ".var"
ENV = os.environ


def _env_float(name: str, default):
    raw = ENV.get(name)
    return default if raw in (None, "") else float(raw)


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
