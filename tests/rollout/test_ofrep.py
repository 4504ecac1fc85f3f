"""OFREP (rollout/ofrep.py): the OpenFeature protocol over the flag API's readings, with its reasons and errors."""

import json
import time
import uuid

import pytest
from django.urls import reverse

from adminpanel.models import ApiClient
from rollout.flags import services as flag_services
from rollout.killswitch import services as kill_switch_services
from rollout.models import ENABLE_SWITCHING_MODE, SHOW_SWITCHING_MODE_UI
from tests.factories import BarFactory, issue_api_token

BULK = "/ofrep/v1/evaluate/flags"


@pytest.fixture
def token(db):
    return issue_api_token("pos-ofrep")


def post(client, path, body, token=None, **headers):
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(path, data, content_type="application/json", headers=headers)


def context(bar, **more):
    return {"context": {"targetingKey": str(getattr(bar, "pk", bar)), **more}}


def one(key):
    return f"{BULK}/{key}"


def test_the_routes_are_the_protocols():
    assert reverse("rollout:ofrep_evaluate_flags") == BULK
    assert reverse("rollout:ofrep_evaluate_flag", args=["X"]) == one("X")


def test_reasons_follow_the_flags_state(client, token, owner):
    listed, other = BarFactory(), BarFactory()
    flag_services.change_allow_list(actor=owner, flag_key=ENABLE_SWITCHING_MODE, bar=listed, add=True, reason="4a")
    answer = post(client, one(ENABLE_SWITCHING_MODE), context(listed, userId="42"), token)
    assert answer.status_code == 200
    assert answer.json() == {
        "key": ENABLE_SWITCHING_MODE,
        "value": True,
        "reason": "TARGETING_MATCH",
        "variant": "on",
        "metadata": {"version": answer.json()["metadata"]["version"]},
    }
    off = post(client, one(ENABLE_SWITCHING_MODE), context(other), token).json()
    assert (off["value"], off["reason"], off["variant"]) == (False, "DEFAULT", "off")
    flag_services.flip_flag(actor=owner, flag_key=SHOW_SWITCHING_MODE_UI, state="global", reason="everyone")
    everyone = post(client, one(SHOW_SWITCHING_MODE_UI), context(other), token).json()
    assert (everyone["value"], everyone["reason"]) == (True, "STATIC")
    kill_switch_services.pull_kill_switch(actor=owner, reason="error rate above 5 %")
    for flag in (ENABLE_SWITCHING_MODE, SHOW_SWITCHING_MODE_UI):
        killed = post(client, one(flag), context(listed), token).json()
        assert (killed["value"], killed["reason"]) == (False, "DISABLED")


def test_the_bulk_answer_has_every_flag_an_etag_and_a_304(client, token, owner):
    bar = BarFactory()
    flag_services.change_allow_list(actor=owner, flag_key=ENABLE_SWITCHING_MODE, bar=bar, add=True, reason="4a")
    first = post(client, BULK, context(bar), token)
    assert first.status_code == 200 and first["ETag"]
    flags = {flag["key"]: (flag["value"], flag["reason"]) for flag in first.json()["flags"]}
    assert flags == {ENABLE_SWITCHING_MODE: (True, "TARGETING_MATCH"), SHOW_SWITCHING_MODE_UI: (False, "DEFAULT")}
    again = post(client, BULK, context(bar), token, **{"If-None-Match": first["ETag"]})
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == first["ETag"]
    kill_switch_services.pull_kill_switch(actor=owner, reason="error rate above 5 %")
    changed = post(client, BULK, context(bar), token, **{"If-None-Match": first["ETag"]})
    assert changed.status_code == 200 and changed["ETag"] != first["ETag"]
    assert {flag["reason"] for flag in changed.json()["flags"]} == {"DISABLED"}


def test_an_unknown_flag_is_404_flag_not_found(client, token, bar):
    answer = post(client, one("NO_SUCH_FLAG"), context(bar), token)
    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "FLAG_NOT_FOUND" and answer.json()["key"] == "NO_SUCH_FLAG"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("{not json", "PARSE_ERROR"),
        ("[1, 2]", "PARSE_ERROR"),
        ({}, "TARGETING_KEY_MISSING"),
        ({"context": {"userId": "7"}}, "TARGETING_KEY_MISSING"),
        ({"context": "bar"}, "INVALID_CONTEXT"),
        ({"context": {"targetingKey": "12; DROP TABLE bars"}}, "INVALID_CONTEXT"),
        ({"context": {"targetingKey": 12}}, "INVALID_CONTEXT"),
        (context(uuid.uuid4()), "INVALID_CONTEXT"),  # no bar has it
    ],
)
def test_a_bad_context_is_400_with_the_protocols_error_code(client, token, body, code):
    for path in (one(ENABLE_SWITCHING_MODE), BULK):
        answer = post(client, path, body, token)
        assert answer.status_code == 400, path
        assert answer.json()["errorCode"] == code and answer.json()["errorDetails"]


def test_tokens_rule_as_for_the_flag_api(client, token, bar, other_bar):
    for path in (one(ENABLE_SWITCHING_MODE), BULK):
        assert post(client, path, context(bar)).status_code == 401
        assert post(client, path, context(bar), "not-a-token").status_code == 401
    scoped = ApiClient(name="one-bar", all_bars=False)
    raw = scoped.issue_token()
    scoped.save()
    scoped.bars.add(bar)
    assert post(client, BULK, context(bar), raw).status_code == 200
    refused = post(client, BULK, context(other_bar), raw)
    assert refused.status_code == 403 and refused.json()["error"] == "bar_not_allowed"
    ApiClient.objects.filter(pk=scoped.pk).update(is_active=False)
    assert post(client, BULK, context(bar), raw).status_code == 401


def test_only_post_is_answered(client, token, bar):
    answer = client.get(BULK, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 405 and answer["Allow"] == "POST"


def test_ofrep_is_answered_on_the_fast_path(client, token, bar):
    for path in (one(ENABLE_SWITCHING_MODE), BULK):
        answer = post(client, path, context(bar), token)
        assert answer.status_code == 200 and answer["X-Served-By"]
        assert answer["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"


@pytest.mark.django_db(transaction=True)
def test_ofrep_reads_the_flag_apis_cache_and_sees_the_kill_switch(client, settings, monkeypatch):
    from rollout.flags import selectors
    from rollout.flags.flag_cache import flag_cache
    from tests.factories import UserFactory

    settings.ROLLOUT_FLAG_CACHE = True
    assert flag_cache.wait_until_listening(5)
    reads = []
    original = selectors.read_flags_for_bar
    monkeypatch.setattr(selectors, "read_flags_for_bar", lambda bar_id: reads.append(bar_id) or original(bar_id))
    try:
        token, bar = issue_api_token("pos-cached"), BarFactory()
        deadline = time.monotonic() + 5
        while flag_cache.get(str(bar.pk)) is None:  # kept once the new bar's own notification has been seen
            selectors.flags_for_bar(bar.pk)
            assert time.monotonic() < deadline, "the bar's reading was never kept"
            time.sleep(0.01)
        reads.clear()
        flag_api = client.get("/api/v1/flags", {"bar": str(bar.pk)}, headers={"Authorization": f"Bearer {token}"})
        for _ in range(3):
            assert post(client, BULK, context(bar), token)["ETag"] == flag_api["ETag"]
        assert reads == []  # both APIs answer from the same kept reading
        kill_switch_services.pull_kill_switch(actor=UserFactory(is_superuser=True), reason="error rate above 5 %")
        deadline = time.monotonic() + 5
        while {f["reason"] for f in post(client, BULK, context(bar), token).json()["flags"]} != {"DISABLED"}:
            assert time.monotonic() < deadline, "the kill switch did not reach OFREP"
            time.sleep(0.01)
    finally:
        flag_cache.stop()
