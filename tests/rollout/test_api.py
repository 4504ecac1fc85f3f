import uuid

import pytest
from django.urls import reverse

from adminpanel.models import ApiClient
from rollout.killswitch import services
from tests.factories import BarFactory, advance, issue_api_token

URL = "/api/v1/flags"


@pytest.fixture
def token(db):
    return issue_api_token("pos-app")


def get(client, token, bar, **headers):
    return client.get(URL, {"bar": str(bar)}, headers={"Authorization": f"Bearer {token}", **headers})


def test_the_route_is_the_documented_one():
    assert reverse("rollout:flags_api") == URL


def test_a_missing_or_wrong_token_is_401(client, token, bar):
    assert client.get(URL, {"bar": str(bar.pk)}).status_code == 401
    assert get(client, "nope", bar.pk).status_code == 401
    ApiClient.objects.update(is_active=False)
    assert get(client, token, bar.pk).status_code == 401


def test_a_malformed_bar_id_is_400_and_an_unknown_bar_404(client, token):
    assert get(client, token, "12; DROP TABLE bars").status_code == 400
    assert client.get(URL, headers={"Authorization": f"Bearer {token}"}).status_code == 400
    assert get(client, token, uuid.uuid4()).status_code == 404


def test_a_bar_gets_both_flags_and_its_operating_mode(client, token, owner, fresh_run):
    bar = BarFactory(is_internal=True)
    body = get(client, token, bar.pk).json()
    assert body["flags"] == {"ENABLE_SWITCHING_MODE": False, "SHOW_SWITCHING_MODE_UI": False}
    assert body["operatingMode"] is None and body["bar"] == str(bar.pk)
    advance(owner)
    body = get(client, token, bar.pk).json()
    assert body["flags"] == {"ENABLE_SWITCHING_MODE": True, "SHOW_SWITCHING_MODE_UI": True}
    assert body["operatingMode"] == "simplified"


def test_an_unchanged_answer_is_304_with_the_same_etag(client, token, bar):
    first = get(client, token, bar.pk)
    etag = first["ETag"]
    assert first.status_code == 200 and etag and first.json()["version"] in etag
    again = get(client, token, bar.pk, **{"If-None-Match": etag})
    assert again.status_code == 304 and again["ETag"] == etag and again.content == b""
    assert get(client, token, bar.pk, **{"If-None-Match": '"other"'}).status_code == 200


def test_the_kill_switch_shows_on_the_very_next_request(client, token, owner, fresh_run):
    bar = BarFactory(is_internal=True)
    advance(owner)
    etag = get(client, token, bar.pk)["ETag"]
    services.pull_kill_switch(actor=owner, reason="errors")
    after = get(client, token, bar.pk, **{"If-None-Match": etag})
    assert after.status_code == 200 and after["ETag"] != etag
    assert after.json()["flags"] == {"ENABLE_SWITCHING_MODE": False, "SHOW_SWITCHING_MODE_UI": False}


def test_the_api_needs_no_login_and_says_no_store_in_shared_caches(client, token, bar):
    response = get(client, token, bar.pk)
    assert response.status_code == 200
    assert "private" in response["Cache-Control"] and "no-cache" in response["Cache-Control"]
