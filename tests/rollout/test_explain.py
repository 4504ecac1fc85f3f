""" "Why is this bar on?": the per-bar explanation page and GET /api/v1/flags/explain (same token rules)."""

import uuid

import pytest

from adminpanel.models import ApiClient
from rollout.flags import explain
from rollout.flags import services as flag_services
from rollout.killswitch import services as kill_switch_services
from rollout.stages.cohorts import bar_bucket
from tests.factories import BarFactory, advance, backdate_soak, issue_api_token, meet_4a_checklist

URL = "/api/v1/flags/explain"


@pytest.fixture
def token(db):
    return issue_api_token("pos-app")


def api(client, token, bar):
    return client.get(URL, {"bar": str(bar)}, headers={"Authorization": f"Bearer {token}"})


def half_bars(count=40):
    """Public bars on each side of the 4b cut."""
    bars = BarFactory.create_batch(count)
    inside = next(bar for bar in bars if bar_bucket(bar.pk) < 50)
    outside = next(bar for bar in bars if bar_bucket(bar.pk) >= 50)
    return inside, outside


def test_a_bar_switched_at_4b_is_on_because_of_its_allow_list_and_says_so(owner, fresh_run):
    BarFactory(is_internal=True, name="Test Bar 1")
    inside, outside = half_bars()
    advance(owner)
    backdate_soak()
    meet_4a_checklist()
    advance(owner, batch_size=1000)
    on = explain.explain_bar(inside.pk)
    assert on.stage == "4b" and on.bucket == bar_bucket(inside.pk) < 50
    assert [(c.stage, c.in_cohort, c.reached) for c in on.cuts] == [
        ("4a", False, True), ("4b", True, True), ("4c", True, False)
    ]  # fmt: skip
    assert on.operating_mode == "simplified" and "by this rollout at stage 4b" in on.mode_why
    assert all(f.value and f.allow_listed for f in on.flags)
    assert "allow-list (added by this rollout at stage 4b)" in on.flags[0].why
    assert on.agrees_with_api

    off = explain.explain_bar(outside.pk)
    assert off.cuts[1].in_cohort is False and off.operating_mode is None
    assert not any(f.value for f in off.flags) and off.agrees_with_api
    assert "not on its allow-list" in off.flags[0].why


def test_a_bar_that_chose_full_mode_is_never_switched_and_says_why(owner, fresh_run):
    full = BarFactory(is_internal=True, settings={"operatingMode": "full"})
    BarFactory(is_internal=True)
    advance(owner)
    explanation = explain.explain_bar(full.pk)
    assert explanation.cuts[0].in_cohort and explanation.operating_mode == "full"
    assert "chose full mode" in explanation.mode_why and explanation.switched_by is None


def test_the_kill_switch_and_a_global_flag_are_the_reason_when_they_decide(owner, fresh_run):
    bar = BarFactory(is_internal=True)
    advance(owner)
    flag_services.flip_flag(actor=owner, flag_key="SHOW_SWITCHING_MODE_UI", state="global", reason="UI for all")
    reasons = {f.key: f.why for f in explain.explain_bar(bar.pk).flags}
    assert reasons["SHOW_SWITCHING_MODE_UI"] == "On: the flag is on for every bar."
    kill_switch_services.pull_kill_switch(actor=owner, reason="errors")
    explanation = explain.explain_bar(bar.pk)
    assert all(not f.value and f.kill_switch and f.why.startswith("Off: the kill switch") for f in explanation.flags)
    assert all(f.allow_listed for f in explanation.flags)  # kept for the release
    assert explanation.agrees_with_api


def test_the_api_answers_the_same_explanation_with_a_token(client, token, owner, fresh_run):
    bar = BarFactory(is_internal=True, name="Test Bar 1")
    advance(owner)
    response = api(client, token, bar.pk)
    assert response.status_code == 200 and response["Cache-Control"] == "private, no-store"
    body = response.json()
    assert body["bar"] == {"id": str(bar.pk), "name": "Test Bar 1", "internal": True}
    assert body["stage"] == {"current": "4a", "label": "4a internal"}
    assert body["bucket"] == bar_bucket(bar.pk)
    assert body["stages"][0] == {
        "stage": "4a", "label": "4a internal", "rule": "internal (test) bars", "inCohort": True, "reached": True
    }  # fmt: skip
    assert body["flags"]["ENABLE_SWITCHING_MODE"]["value"] is True
    assert body["flags"]["ENABLE_SWITCHING_MODE"]["allowListed"] is True
    assert body["operatingMode"]["value"] == "simplified" and body["switchedByRollout"]["stage"] == "4a"
    assert body["served"]["flags"] == {"ENABLE_SWITCHING_MODE": True, "SHOW_SWITCHING_MODE_UI": True}
    assert body["agreesWithFlagApi"] is True


def test_the_api_has_the_flag_apis_token_rules(client, token, bar):
    assert client.get(URL, {"bar": str(bar.pk)}).status_code == 401
    assert api(client, "wrong", bar.pk).status_code == 401
    assert api(client, token, "12; DROP TABLE bars").status_code == 400
    assert api(client, token, uuid.uuid4()).status_code == 404
    revoked = ApiClient.objects.get()
    revoked.is_active = False
    revoked.save()  # as the Django admin does: the process's token cache forgets it at once
    refused = api(client, token, bar.pk)
    assert refused.status_code == 401 and refused["WWW-Authenticate"] == "Bearer"


def test_a_logged_in_session_is_not_a_token(client_for, support_user, bar):
    assert client_for(support_user).get(URL, {"bar": str(bar.pk)}).status_code == 401


# --- The page ---------------------------------------------------------------------------------------------------


def test_bars_are_picked_by_name_as_you_type(client_for, support_user, db):
    BarFactory(name="Maquis Baobab")
    BarFactory(name="Chez Fatou")
    client = client_for(support_user)
    matches = client.get("/rollout/explain/bars/", {"q": "baob"}, headers={"HX-Request": "true"}).content.decode()
    assert "Maquis Baobab" in matches and "Chez Fatou" not in matches
    nothing = client.get("/rollout/explain/bars/", {"q": "zzz"}).content.decode()
    assert "No bar's name contains “zzz”" in nothing
    page = client.get("/rollout/explain/", {"q": "chez"}).content.decode()  # works without JavaScript too
    assert "Chez Fatou" in page


def test_the_page_shows_every_input_and_the_final_values(client_for, support_user, owner, fresh_run):
    bar = BarFactory(is_internal=True, name="Test Bar 1")
    advance(owner)
    page = client_for(support_user).get("/rollout/explain/", {"bar": str(bar.pk)}).content.decode()
    assert 'id="explain-stage">4a internal' in page
    assert f'id="explain-bucket">{bar_bucket(bar.pk)} ' in page
    assert 'id="explain-ENABLE_SWITCHING_MODE" data-value="on"' in page
    assert "internal (test) bars" in page and "hash bucket below 50" in page
    assert "The flag API serves exactly these values" in page
    assert str(bar.pk) not in page.replace(f'data-bar="{bar.pk}"', "")  # names on the page, never the raw id


def test_a_malformed_or_unknown_bar_is_a_clear_message_not_a_500(client_for, support_user, db):
    client = client_for(support_user)
    bad = client.get("/rollout/explain/", {"bar": "not-a-bar"})
    assert bad.status_code == 400 and "pick the bar by its name" in bad.content.decode()
    gone = client.get("/rollout/explain/", {"bar": str(uuid.uuid4())})
    assert gone.status_code == 404 and "No bar has this id" in gone.content.decode()
    assert client.get("/rollout/explain/bars/", {"q": "Maq\x00uis"}).status_code == 200
    assert client.get("/rollout/explain/", {"q": "\x00"}).status_code == 200


def test_bar_managers_and_plain_users_may_not_see_it(client_for, bar_manager_only, plain_user, bar):
    for user in (bar_manager_only, plain_user):
        client = client_for(user)
        assert client.get("/rollout/explain/", {"bar": str(bar.pk)}).status_code == 403
        assert client.get("/rollout/explain/bars/", {"q": "Maquis"}).status_code == 403
