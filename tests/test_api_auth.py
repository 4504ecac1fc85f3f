"""Client API tokens: hashed, scoped to bars, expiring, and remembered per process only while revocations reach
the process (LISTEN/NOTIFY), so a revoked token is refused at once everywhere."""

import time
from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone

import adminpanel.api_auth as api_auth
from adminpanel.api_auth import authenticate_api_client, check_api_token
from adminpanel.models import ApiClient
from adminpanel.pg_notify import listener
from tests.factories import BarFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued():
    client = ApiClient(name="pos-android", all_bars=True)
    raw = client.issue_token()
    client.save()
    return client, raw


BARRIER = "test_api_auth_barrier"
_barrier_seen: list[str] = []


def _barrier(payload: str) -> None:
    _barrier_seen.append(payload)


@pytest.fixture
def cache_on(settings):
    settings.API_TOKEN_CACHE_SECONDS = 30
    listener.subscribe(BARRIER, _barrier)
    listener.ensure_started()
    assert eventually(lambda: listener.listening_to(BARRIER)) is not None
    yield
    listener.stop()


def drain_notifications():
    """Wait until every notification committed so far has reached this process: one sent after them arrives
    after them, on the same connection."""
    token = f"t{time.monotonic_ns()}"
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_notify(%s, %s)", [BARRIER, token])
    assert eventually(lambda: token in _barrier_seen) is not None


@pytest.fixture
def loads(monkeypatch):
    """Counts the token reads from the database."""
    calls = []
    original = api_auth._load

    def counting(digest):
        calls.append(digest)
        return original(digest)

    monkeypatch.setattr(api_auth, "_load", counting)
    return calls


def _request(header=None):
    headers = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    return RequestFactory().get("/api/v1/flags", **headers)


def eventually(predicate, timeout=5.0) -> float | None:
    """Seconds until `predicate()` held (polled, never slept blindly), or None."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.001)
    return None


def test_only_a_hash_of_the_token_is_stored(issued):
    client, raw = issued
    stored = ApiClient.objects.get(pk=client.pk)
    assert raw not in (stored.token_hash, stored.token_prefix)
    assert raw.startswith(stored.token_prefix)


def test_a_valid_bearer_token_identifies_its_client_and_records_use(issued):
    client, raw = issued
    assert authenticate_api_client(_request(f"Bearer {raw}")) == client
    assert ApiClient.objects.get(pk=client.pk).last_used_at is not None


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer wrong-token", "Basic abc", "Token x"])
def test_missing_or_wrong_tokens_identify_nobody(issued, header):
    check = check_api_token(_request(header))
    assert check.client is None and check.code == "unauthorized"


def test_a_deactivated_client_is_refused(issued):
    client, raw = issued
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)
    assert authenticate_api_client(_request(f"Bearer {raw}")) is None


def test_a_new_token_expires_after_the_configured_lifetime(settings):
    settings.API_TOKEN_LIFETIME_DAYS = 30
    client = ApiClient(name="short-lived")
    assert timedelta(days=29) < client.expires_at - timezone.now() <= timedelta(days=30)


def test_an_expired_token_is_refused_and_says_when_it_expired_even_when_remembered(issued, cache_on, monkeypatch):
    client, raw = issued
    ApiClient.objects.filter(pk=client.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    assert authenticate_api_client(_request(f"Bearer {raw}")) == client  # remembered now
    two_hours_later = timezone.now() + timedelta(hours=2)
    monkeypatch.setattr(timezone, "now", lambda: two_hours_later)
    check = check_api_token(_request(f"Bearer {raw}"))
    assert check.client is None and check.code == "token_expired"
    assert check.message.startswith("This API token expired on ")
    assert check.message.endswith("ask an administrator for a new one.")


def test_a_verified_token_is_not_queried_again_while_remembered(issued, cache_on, django_assert_num_queries):
    client, raw = issued
    assert authenticate_api_client(_request(f"Bearer {raw}")) == client
    with django_assert_num_queries(0):
        assert authenticate_api_client(_request(f"Bearer {raw}")) == client


def test_nothing_is_remembered_while_the_listener_is_down(issued, settings, loads, monkeypatch):
    settings.API_TOKEN_CACHE_SECONDS = 30
    listener.stop()
    monkeypatch.setattr(listener, "ensure_started", lambda: None)  # it cannot connect
    client, raw = issued
    for _ in range(3):
        assert authenticate_api_client(_request(f"Bearer {raw}")) == client
    assert len(loads) == 3


def test_deactivating_a_client_revokes_its_token_at_once_in_this_process(issued, cache_on):
    client, raw = issued
    assert authenticate_api_client(_request(f"Bearer {raw}")) == client
    client.is_active = False
    client.save()
    assert authenticate_api_client(_request(f"Bearer {raw}")) is None


def test_a_remembered_token_is_checked_again_after_the_cache_time(issued, cache_on, settings, monkeypatch):
    client, raw = issued
    settings.API_TOKEN_CACHE_SECONDS = 5
    assert authenticate_api_client(_request(f"Bearer {raw}")) == client
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)  # not committed: nothing is notified
    assert authenticate_api_client(_request(f"Bearer {raw}")) == client  # still remembered here
    later = api_auth.time.monotonic() + 6
    monkeypatch.setattr(api_auth.time, "monotonic", lambda: later)
    assert authenticate_api_client(_request(f"Bearer {raw}")) is None


# --- Other processes: a change committed by another connection reaches this process's cache -------------------
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "revoke",
    [
        "UPDATE api_clients SET is_active = false WHERE id = %(id)s",
        "UPDATE api_clients SET expires_at = now() - interval '1 second' WHERE id = %(id)s",
        "UPDATE api_clients SET token_hash = md5(token_hash) || md5(token_hash) WHERE id = %(id)s",
        "DELETE FROM api_clients WHERE id = %(id)s",
        "UPDATE api_clients SET all_bars = false WHERE id = %(id)s",
    ],
    ids=["deactivated", "expired", "rotated", "deleted", "narrowed"],
)
def test_a_token_revoked_by_another_process_is_refused_at_once_here(cache_on, loads, revoke):
    bar = BarFactory()
    client = ApiClient(name="pos-elsewhere", all_bars=True)
    raw = client.issue_token()
    client.save()
    drain_notifications()  # the notification of this insert must not count as a revocation below
    request = _request(f"Bearer {raw}")
    assert api_auth.may_use_bar(authenticate_api_client(request), bar.pk)
    assert api_auth.may_use_bar(authenticate_api_client(request), bar.pk)
    assert len(loads) == 1  # the second request was answered from memory

    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other_process:
        other_process.execute(revoke, {"id": client.pk})

    def refused():
        check = authenticate_api_client(request)
        return check is None or not api_auth.may_use_bar(check, bar.pk)

    seconds = eventually(refused)
    assert seconds is not None and seconds < 1.0, seconds


@pytest.mark.django_db(transaction=True)
def test_a_bar_removed_from_a_tokens_scope_by_another_process_is_refused_at_once(cache_on):
    bar, other = BarFactory(), BarFactory()
    client = ApiClient(name="pos-two-bars")
    raw = client.issue_token()
    client.save()
    client.bars.set([bar, other])
    drain_notifications()
    request = _request(f"Bearer {raw}")
    assert api_auth.may_use_bar(authenticate_api_client(request), other.pk)
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other_process:
        other_process.execute("DELETE FROM api_clients_bars WHERE bar_id = %s", [other.pk])
    assert eventually(lambda: not api_auth.may_use_bar(authenticate_api_client(request), other.pk)) is not None
    assert api_auth.may_use_bar(authenticate_api_client(request), bar.pk)


@pytest.mark.django_db(transaction=True)
def test_recording_use_does_not_empty_every_processs_cache(cache_on, loads):
    client = ApiClient(name="pos-polling", all_bars=True)
    raw = client.issue_token()
    client.save()
    drain_notifications()
    request = _request(f"Bearer {raw}")
    authenticate_api_client(request)
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other_process:
        other_process.execute(
            "UPDATE api_clients SET last_used_at = now(), name = 'renamed' WHERE id = %s", [client.pk]
        )
    drain_notifications()
    authenticate_api_client(request)
    assert len(loads) == 1
