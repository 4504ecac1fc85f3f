"""Reading deploy-time configuration from the environment (used by settings.py)."""

import re
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_bool(environ, name: str, default: bool) -> bool:
    """Parse a boolean variable; anything but a known word is a configuration error."""
    raw = environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no, on/off)")


def env_int(environ, name: str, default: int) -> int:
    """Parse a whole-number variable; anything else is a configuration error naming the variable."""
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a whole number") from None


def env_list(environ, name: str, default: list[str]) -> list[str]:
    raw = environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_from_url(url: str, variable: str = "DATABASE_URL") -> dict:
    """Turn ``postgresql://user:pass@host:port/name?opt=val`` into a Django DATABASES entry (dj-database-url).

    Only PostgreSQL is accepted: the panel relies on RLS, jsonb and partial indexes. ``?host=/socket/dir`` names
    a Unix socket directory, as libpq's own URLs do.
    """
    try:
        db = dj_database_url.parse(url)
    except ValueError as exc:  # dj-database-url: unknown scheme or unparsable URL
        raise ImproperlyConfigured(f"{variable} is not a database URL: {exc}") from None
    if db["ENGINE"] != "django.db.backends.postgresql":
        scheme = url.split(":", 1)[0]
        raise ImproperlyConfigured(f"{variable} must be a postgresql:// URL, got scheme {scheme!r}")
    if not db["NAME"]:
        raise ImproperlyConfigured(f"{variable} has no database name")
    options = db.setdefault("OPTIONS", {})
    host = options.pop("host", None)
    if host:
        db["HOST"] = str(host)
    db["PORT"] = str(db.get("PORT") or "")
    return db


def direct_database_url(environ, *, pooled: bool) -> str:
    """``DATABASE_DIRECT_URL``, checked at start: a PostgreSQL URL when set, and required when ``DATABASE_URL`` goes
    through a pooler in transaction mode (LISTEN and session advisory locks would silently fail there)."""
    url = environ.get("DATABASE_DIRECT_URL", "")
    if url:
        database_from_url(url, "DATABASE_DIRECT_URL")
    elif pooled:
        raise ImproperlyConfigured(
            "DATABASE_POOLED=1 needs DATABASE_DIRECT_URL: a direct (unpooled) connection for LISTEN and session "
            "advisory locks, e.g. Supabase's direct connection on port 5432"
        )
    return url


def panel_schema(environ) -> str:
    """The schema of the panel's own tables (``PANEL_SCHEMA``, default ``bartender_admin``): a plain lower-case
    identifier, since it is written into SQL and into the connection's search_path."""
    name = environ.get("PANEL_SCHEMA") or "bartender_admin"
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name) or name in {"public", "auth", "pg_catalog", "extensions"}:
        raise ImproperlyConfigured(
            f"PANEL_SCHEMA must be a lower-case identifier of the panel's own (not public or auth), got {name!r}"
        )
    return name


def local_secret_key(var_dir: Path) -> str:
    """A random key kept in the ignored .var/ folder, so a checkout never ships a secret."""
    path = var_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        var_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(50)
        path.write_text(key)
        path.chmod(0o600)
        return key


def secret_key(environ, *, debug: bool, var_dir: Path) -> str:
    """SECRET_KEY from the environment; a local key kept under .var/ only when DEBUG is on.

    With DEBUG off a missing key is refused rather than made up: a generated key differs between machines and
    processes, which silently logs people out and breaks signed links behind a load balancer.
    """
    key = environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    if debug:
        return local_secret_key(var_dir)
    raise ImproperlyConfigured(
        "SECRET_KEY is not set and DEBUG is off: the panel refuses to start without a secret key. Set SECRET_KEY "
        "to 50 or more random characters (python3 -c 'import secrets; print(secrets.token_urlsafe(50))'), "
        "or DEBUG=1 on a development machine."
    )
