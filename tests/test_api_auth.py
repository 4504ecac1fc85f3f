import pytest
from django.test import RequestFactory

from adminpanel.api_auth import authenticate_api_client
from adminpanel.models import ApiClient

pytestmark = pytest.mark.django_db


@pytest.fixture
def issued():
    client = ApiClient(name="pos-android")
    raw = client.issue_token()
    client.save()
    return client, raw


def _request(header=None):
    headers = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    return RequestFactory().get("/api/v1/flags", **headers)


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
    assert authenticate_api_client(_request(header)) is None


def test_a_deactivated_client_is_refused(issued):
    client, raw = issued
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)
    assert authenticate_api_client(_request(f"Bearer {raw}")) is None


def test_a_verified_token_is_not_queried_again_while_remembered(issued, django_assert_num_queries):
    client, raw = issued
    assert authenticate_api_client(_request(f"Bearer {raw}")) == client
    with django_assert_num_queries(0):
        assert authenticate_api_client(_request(f"Bearer {raw}")) == client


def test_deactivating_a_client_revokes_its_token_at_once_in_this_process(issued):
    client, raw = issued
    assert authenticate_api_client(_request(f"Bearer {raw}")) == client
    client.is_active = False
    client.save()
    assert authenticate_api_client(_request(f"Bearer {raw}")) is None


def test_a_remembered_token_is_checked_again_after_the_cache_time(issued, settings, monkeypatch):
    import adminpanel.api_auth as api_auth

    client, raw = issued
    settings.API_TOKEN_CACHE_SECONDS = 5
    assert authenticate_api_client(_request(f"Bearer {raw}")) == client
    ApiClient.objects.filter(pk=client.pk).update(is_active=False)  # another process revoked it
    assert authenticate_api_client(_request(f"Bearer {raw}")) == client  # still remembered here
    later = api_auth.time.monotonic() + 6
    monkeypatch.setattr(api_auth.time, "monotonic", lambda: later)
    assert authenticate_api_client(_request(f"Bearer {raw}")) is None
