"""`GET /api/v1/flags/snapshot`: every bar a token may read in one body with one ETag (issue 15)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import ApiClient, Bar
from rollout.flags import services as flag_services
from rollout.killswitch import services as kill_switch_services
from rollout.models import ENABLE_SWITCHING_MODE, FlagState
from tests.factories import BarFactory, advance

pytestmark = pytest.mark.django_db

URL = "/api/v1/flags/snapshot"


def token_for(*bars, all_bars=False, expires_at=None):
    client = ApiClient(
        name=f"relay-{ApiClient.objects.count() + 1}",
        all_bars=all_bars,
        **({"expires_at": expires_at} if expires_at else {}),
    )
    raw = client.issue_token()
    client.save()
    client.bars.set(bars)
    return raw


def snapshot(client, token, **headers):
    return client.get(URL, headers={"Authorization": f"Bearer {token}", **headers})


def flags(client, token, bar):
    return client.get("/api/v1/flags", {"bar": str(bar.pk)}, headers={"Authorization": f"Bearer {token}"})


def test_the_route_is_the_documented_one():
    assert reverse("rollout:flags_snapshot_api") == URL


def test_refusals_are_the_flag_apis(client, bar):
    assert client.get(URL).status_code == 401
    assert client.get(URL).json()["error"] == "unauthorized"
    assert snapshot(client, "not-a-token").status_code == 401
    expired = token_for(all_bars=True, expires_at=timezone.now() - timedelta(minutes=1))
    refused = snapshot(client, expired)
    assert refused.status_code == 401 and refused.json()["error"] == "token_expired"
    assert refused["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    revoked = token_for(all_bars=True)
    ApiClient.objects.update(is_active=False)
    assert snapshot(client, revoked).status_code == 401
    posted = client.post(URL, headers={"Authorization": f"Bearer {revoked}"})
    assert posted.status_code == 405 and posted.json()["error"] == "method_not_allowed"


def test_a_fleet_wide_token_reads_every_bar_each_as_the_flag_api_answers_it(client, bar, other_bar):
    token = token_for(all_bars=True)
    response = snapshot(client, token)
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"version", "bars"}
    assert [entry["bar"] for entry in body["bars"]] == sorted(
        str(pk) for pk in Bar.objects.values_list("pk", flat=True)
    )
    by_bar = {entry["bar"]: entry for entry in body["bars"]}
    for each in (bar, other_bar):
        assert by_bar[str(each.pk)] == flags(client, token, each).json()
    assert response["ETag"] == f'"{body["version"]}"'
    assert "private" in response["Cache-Control"] and "no-cache" in response["Cache-Control"]


def test_a_scoped_token_reads_its_bars_only(client, bar, other_bar):
    third = BarFactory()
    body = snapshot(client, token_for(bar, third)).json()
    assert {entry["bar"] for entry in body["bars"]} == {str(bar.pk), str(third.pk)}
    assert snapshot(client, token_for()).json()["bars"] == []


def test_an_unchanged_snapshot_is_304_with_the_same_etag(client, bar):
    token = token_for(all_bars=True)
    etag = snapshot(client, token)["ETag"]
    again = snapshot(client, token, **{"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert snapshot(client, token, **{"If-None-Match": f"W/{etag}"}).status_code == 304
    assert snapshot(client, token, **{"If-None-Match": '"other"'}).status_code == 200


def test_the_etag_changes_with_a_flip_an_allow_list_a_stage_and_the_kill_switch(client, owner, fresh_run):
    BarFactory(is_internal=True)  # the 4a cohort, so the first stage switches a bar
    token = token_for(all_bars=True)
    seen = [snapshot(client, token)["ETag"]]

    def changed() -> bool:
        response = snapshot(client, token, **{"If-None-Match": seen[-1]})
        seen.append(response["ETag"])
        return response.status_code == 200 and seen[-1] != seen[-2]

    flag_services.change_allow_list(
        actor=owner, flag_key=ENABLE_SWITCHING_MODE, bar=Bar.objects.first(), add=True, reason="pilot"
    )
    assert changed()
    advance(owner)
    assert changed()
    flag_services.flip_flag(actor=owner, flag_key=ENABLE_SWITCHING_MODE, state=FlagState.GLOBAL, reason="all bars")
    assert changed()
    kill_switch_services.pull_kill_switch(actor=owner, reason="errors above 5 %")
    assert changed()
    assert not any(any(entry["flags"].values()) for entry in snapshot(client, token).json()["bars"])


def test_a_change_to_a_bar_outside_the_scope_keeps_a_scoped_etag(client, bar, other_bar):
    token = token_for(bar)
    etag = snapshot(client, token)["ETag"]
    Bar.objects.filter(pk=other_bar.pk).update(settings={"operatingMode": "simplified"})
    assert snapshot(client, token, **{"If-None-Match": etag}).status_code == 304
    Bar.objects.filter(pk=bar.pk).update(settings={"operatingMode": "simplified"})
    assert snapshot(client, token, **{"If-None-Match": etag}).status_code == 200


def test_a_new_bar_changes_a_fleet_wide_snapshot(client, bar):
    token = token_for(all_bars=True)
    etag = snapshot(client, token)["ETag"]
    new = BarFactory()
    response = snapshot(client, token, **{"If-None-Match": etag})
    assert response.status_code == 200 and str(new.pk) in {entry["bar"] for entry in response.json()["bars"]}
