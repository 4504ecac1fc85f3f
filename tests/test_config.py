import pytest
from django.core.exceptions import ImproperlyConfigured

from adminpanel.config import (
    database_from_url,
    direct_database_url,
    env_bool,
    env_int,
    env_list,
    local_secret_key,
    secret_key,
)


def test_database_url_is_split_into_django_settings():
    db = database_from_url("postgresql://app:s%40cret@db.internal:6543/bartender?sslmode=require")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "bartender",
        "app",
        "s@cret",
        "db.internal",
        "6543",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}


def test_database_url_may_name_a_socket_directory_as_host():
    db = database_from_url("postgresql://app@/bartender?host=/var/run/postgresql")
    assert db["HOST"] == "/var/run/postgresql"
    assert "host" not in db["OPTIONS"]


@pytest.mark.parametrize("url", ["sqlite:///db.sqlite3", "mysql://u@h/db", "postgresql://u@h/"])
def test_database_url_other_than_postgresql_with_a_name_is_refused(url):
    with pytest.raises(ImproperlyConfigured):
        database_from_url(url)


def test_a_pooled_database_url_needs_a_direct_one_for_listen_and_session_locks():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_POOLED=1 needs DATABASE_DIRECT_URL"):
        direct_database_url({}, pooled=True)
    direct = "postgresql://postgres:pw@db.example.supabase.co:5432/postgres"
    assert direct_database_url({"DATABASE_DIRECT_URL": direct}, pooled=True) == direct
    assert direct_database_url({}, pooled=False) == ""


def test_a_direct_database_url_is_checked_at_start_and_named_in_the_message():
    with pytest.raises(ImproperlyConfigured, match="DATABASE_DIRECT_URL must be a postgresql:// URL"):
        direct_database_url({"DATABASE_DIRECT_URL": "mysql://u@h/db"}, pooled=False)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_DIRECT_URL has no database name"):
        direct_database_url({"DATABASE_DIRECT_URL": "postgresql://u@h:5432/"}, pooled=True)


def test_env_bool_accepts_common_words_and_refuses_the_rest():
    assert env_bool({"X": "yes"}, "X", False) is True
    assert env_bool({"X": "0"}, "X", True) is False
    assert env_bool({}, "X", True) is True
    with pytest.raises(ImproperlyConfigured, match="X='maybe'"):
        env_bool({"X": "maybe"}, "X", False)


def test_env_list_splits_on_commas_and_drops_blanks():
    assert env_list({"H": "a.example, b.example,,"}, "H", []) == ["a.example", "b.example"]
    assert env_list({}, "H", ["localhost"]) == ["localhost"]


def test_local_secret_key_is_generated_once_and_kept_private(tmp_path):
    first = local_secret_key(tmp_path / "var")
    assert len(first) >= 50
    assert local_secret_key(tmp_path / "var") == first
    assert (tmp_path / "var" / "secret_key").stat().st_mode & 0o777 == 0o600


def test_env_int_reads_whole_numbers_and_names_the_variable_otherwise():
    assert env_int({"N": " 12 "}, "N", 3) == 12
    assert env_int({"N": ""}, "N", 3) == 3
    assert env_int({}, "N", 3) == 3
    with pytest.raises(ImproperlyConfigured, match="N='1.5' is not a whole number"):
        env_int({"N": "1.5"}, "N", 3)


def test_secret_key_comes_from_the_environment_first(tmp_path):
    assert secret_key({"SECRET_KEY": "k" * 60}, debug=False, var_dir=tmp_path) == "k" * 60
    assert not (tmp_path / "secret_key").exists()


def test_secret_key_is_refused_rather_than_made_up_when_debug_is_off(tmp_path):
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY is not set and DEBUG is off"):
        secret_key({}, debug=False, var_dir=tmp_path)
    assert not (tmp_path / "secret_key").exists()


def test_secret_key_falls_back_to_the_local_key_only_with_debug_on(tmp_path):
    assert secret_key({"SECRET_KEY": ""}, debug=True, var_dir=tmp_path) == local_secret_key(tmp_path)


def test_settings_use_postgresql_with_health_checked_persistent_connections(settings):
    db = settings.DATABASES["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert db["CONN_HEALTH_CHECKS"] is True
    assert db["CONN_MAX_AGE"] > 0


@pytest.mark.django_db(transaction=True)
def test_a_dropped_database_connection_is_replaced_without_a_restart():
    """What a PostgreSQL restart does to a persistent connection, and Django's health check recovering from it."""
    import psycopg
    from django.db import close_old_connections, connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    close_old_connections()  # what Django runs at the start of every request
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid
