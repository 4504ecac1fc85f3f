"""config/settings.py read by fresh processes with a given environment: the refusals and the HTTPS switches.

Settings are read once per process, so each case runs `manage.py` (or a short script) in a subprocess.
"""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
PRODUCTION_LIKE = {
    "DEBUG": "0",
    "HTTPS": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto: https",
    "ALLOWED_HOSTS": "panel.example.com",
    "EMAIL_HOST": "smtp.example.com",
}


def _env(**overrides) -> dict:
    # Not inherited: what this process was given for tests (the browser tests lift Django's async guard).
    dropped = {"SECRET_KEY", "DEBUG", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings"
    env.update(overrides)
    return {k: v for k, v in env.items() if v is not None}


def _manage(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _settings_of(names: list[str], **env) -> dict:
    script = (
        "import json, django; from django.conf import settings; django.setup(); "
        f"print(json.dumps({{n: getattr(settings, n, None) for n in {names!r}}}, default=str))"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], env=_env(**env), capture_output=True, text=True, timeout=60, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_debug_off_without_a_secret_key_refuses_to_start_with_one_clear_line():
    done = _manage("check", DEBUG="0")
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "SECRET_KEY is not set and DEBUG is off" in lines[0]
    assert "Traceback" not in done.stderr


def test_debug_off_with_a_blank_secret_key_refuses_too():
    assert _manage("check", DEBUG="0", SECRET_KEY="  ").returncode != 0


def test_debug_off_with_a_secret_key_starts():
    done = _manage("check", DEBUG="0", SECRET_KEY=secrets.token_urlsafe(50))
    assert done.returncode == 0, done.stderr


def test_check_deploy_is_clean_with_the_production_like_environment():
    done = _manage(
        "check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=secrets.token_urlsafe(50), **PRODUCTION_LIKE
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_fails_on_warnings_when_https_is_not_configured():
    env = {**PRODUCTION_LIKE, "HTTPS": "0", "SECURE_HSTS_PRELOAD": "0"}
    done = _manage("check", "--deploy", "--fail-level", "WARNING", SECRET_KEY=secrets.token_urlsafe(50), **env)
    assert done.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in done.stderr


def test_https_turns_on_redirect_hsts_and_secure_cookies_each_overridable():
    names = [
        "SECURE_SSL_REDIRECT",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_PROXY_SSL_HEADER",
    ]
    key = secrets.token_urlsafe(50)
    local = _settings_of(names, SECRET_KEY=key)
    assert local == {
        "SECURE_SSL_REDIRECT": False,
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }
    https = _settings_of(
        names, SECRET_KEY=key, HTTPS="1", SECURE_HSTS_SECONDS="600", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https"
    )
    assert https == {
        "SECURE_SSL_REDIRECT": True,
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 600,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": True,
        "SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"],
    }
    assert _settings_of(["SECURE_SSL_REDIRECT"], SECRET_KEY=key, HTTPS="1", SECURE_SSL_REDIRECT="0") == {
        "SECURE_SSL_REDIRECT": False
    }


def test_a_malformed_number_is_refused_naming_the_variable():
    done = _manage("check", DEBUG="1", WEB_THREADS="four")
    assert done.returncode != 0
    assert "WEB_THREADS='four' is not a whole number" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("username+ip_address", [["username", "ip_address"]]),
        ("username+ip_address,ip_address", [["username", "ip_address"], "ip_address"]),
    ],
)
def test_lockout_parameters_come_from_the_environment(raw, expected):
    got = _settings_of(["AXES_LOCKOUT_PARAMETERS"], DEBUG="1", AXES_LOCKOUT_PARAMETERS=raw)
    assert got == {"AXES_LOCKOUT_PARAMETERS": expected}
