"""The rollout pages for people (issue 14): plain flag states, the kill switch as a state with one release,
confirmations that state their blast radius and refuse without it, names not UUIDs, readable history."""

import csv
import io
import json
import re

import pytest
from django.urls import reverse

from adminpanel.models import PanelEvent
from rollout import errors
from rollout.flags import selectors
from rollout.flags import services as flag_services
from rollout.killswitch import services as kill_switch_services
from rollout.models import EventKind, FeatureFlag, RolloutEvent
from tests.factories import BarFactory, advance, confirmed_post, make_support, state, token_from


def visible(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_at_stage_off_both_flags_read_off_with_zero_bars_not_on_for_allow_listed_bars(client_for, owner):
    page = visible(client_for(owner).get(reverse("rollout:page")))
    assert page.count("Off — 0 bars") == 2
    assert "On for allow-listed bars" not in page and "(kill switch)" not in page


def test_an_allow_listed_flag_says_how_many_bars_and_lists_them_by_name(client_for, owner, enable_flag):
    enable_flag.allowed_bars.add(BarFactory(name="Chez Anna"), BarFactory(name="Zum Bären"))
    page = visible(client_for(owner).get(reverse("rollout:page")))
    assert "On for 2 allow-listed bars" in page
    assert "Chez Anna" in page and "Zum Bären" in page


def test_a_flip_without_its_confirmation_changes_nothing_and_states_the_blast_radius(client_for, owner, enable_flag):
    BarFactory.create_batch(3)
    enable_flag.allowed_bars.add(BarFactory())
    client = client_for(owner)
    url = reverse("rollout:flip", args=[enable_flag.key])
    response = client.post(url, {"state": "global", "reason": "all in"})
    assert response.status_code == 200
    assert "Turns ENABLE_SWITCHING_MODE on for every bar: 4 bars (3 bars more than today" in visible(response)
    assert "Undo: flip ENABLE_SWITCHING_MODE back" in visible(response)
    enable_flag.refresh_from_db()
    assert not enable_flag.enabled_globally and not RolloutEvent.objects.exists()
    forged = client.post(url, {"state": "global", "reason": "all in", "confirm_token": "forged"})
    assert forged.status_code == 200 and "not valid" in visible(forged)
    enable_flag.refresh_from_db()
    assert not enable_flag.enabled_globally
    confirmed_post(client, url, {"state": "global", "reason": "all in"})
    enable_flag.refresh_from_db()
    assert enable_flag.enabled_globally


def test_advance_confirmation_names_the_bars_it_switches_and_a_token_for_other_inputs_is_refused(
    client_for, owner, fresh_run
):
    BarFactory.create_batch(3, is_internal=True)
    client = client_for(owner)
    data = {"version": state().version, "batch_size": ""}
    response = client.post(reverse("rollout:advance"), data)
    assert "Advance to 4a internal switches 3 bars to simplified mode" in visible(response)
    assert "Roll back stage 4a internal" in visible(response)
    assert state().stage == "off"
    token = re.search(r'name="confirm_token" value="([^"]+)"', response.content.decode()).group(1)
    other = client.post(reverse("rollout:advance"), {**data, "batch_size": "1", "confirm_token": token})
    assert "has changed since" in visible(other) and state().stage == "off"
    batch = client.post(reverse("rollout:advance"), {**data, "batch_size": "2"})
    assert "switches 2 bars" in visible(batch)
    confirmed_post(client, reverse("rollout:advance"), data)
    assert state().stage == "4a"


def test_the_kill_switch_is_a_state_with_one_release_and_controls_that_fit_it(
    client_for, owner, enable_flag, fresh_run
):
    bars = BarFactory.create_batch(2, is_internal=True)
    advance(owner)
    client = client_for(owner)
    confirm = visible(client.get(reverse("rollout:kill_switch")))
    assert "Turns simplified mode off for 2 bars" in confirm and "Undo: “Release kill switch”" in confirm
    token = token_from(client, reverse("rollout:kill_switch"))
    client.post(reverse("rollout:kill_switch"), {"reason": "errors spike", "confirm": "on", "confirm_token": token})
    page = visible(client.get(reverse("rollout:page")))
    assert "Kill switch engaged" in page and "by owner" in page and "errors spike" in page
    assert page.count("Off — kill switch engaged") == 2
    assert "Release kill switch" in page
    html = client.get(reverse("rollout:page")).content.decode()
    for absent in ('id="advance"', 'id="pause-toggle"', 'id="kill-switch"', 'id="autopilot-on"', "Flip ENABLE"):
        assert absent not in html, absent
    home = visible(client.get(reverse("home")))
    assert "Kill switch engaged" in home and "errors spike" in home
    # The server refuses what the page no longer offers, with a clear message, and changes nothing.
    version = state().version
    for name, data in (
        ("rollout:pause", {"reason": "x"}),
        ("rollout:resume", {"reason": "x"}),
        ("rollout:advance", {"version": version}),
        ("rollout:flip", {"state": "global", "reason": "x"}),
    ):
        url = reverse(name, args=[enable_flag.key]) if name == "rollout:flip" else reverse(name)
        refused = client.post(url, data, follow=True)
        assert "The kill switch is engaged" in visible(refused), name
    assert state().version == version and FeatureFlag.objects.filter(kill_switch_engaged=True).count() == 2
    # One release: a confirmation with the bars it turns back on, a reason, audited.
    release = visible(client.get(reverse("rollout:release_kill_switch")))
    assert "Turns both flags back on for the 2 bars on their allow-lists" in release
    missing = client.post(reverse("rollout:release_kill_switch"), {"reason": "", "confirm": "on"})
    assert missing.status_code == 400 and FeatureFlag.objects.filter(kill_switch_engaged=True).count() == 2
    token = token_from(client, reverse("rollout:release_kill_switch"))
    client.post(
        reverse("rollout:release_kill_switch"), {"reason": "fixed in 1.2.3", "confirm": "on", "confirm_token": token}
    )
    assert not FeatureFlag.objects.filter(kill_switch_engaged=True).exists()
    assert not FeatureFlag.objects.filter(enabled_globally=True).exists()
    event = RolloutEvent.objects.get(kind=EventKind.KILL_SWITCH_RELEASE)
    assert event.reason == "fixed in 1.2.3" and event.actor == owner
    assert PanelEvent.objects.filter(action="rollout.kill_switch_release", reason="fixed in 1.2.3").exists()
    assert all(selectors.is_enabled(enable_flag.key, bar) for bar in bars)
    assert state().paused  # resuming is its own, deliberate step


@pytest.mark.parametrize("who", ["support_user", "product_user"])
def test_releasing_the_kill_switch_without_the_permission_is_refused(request, client_for, owner, who):
    kill_switch_services.pull_kill_switch(actor=owner, reason="stop")
    client = client_for(request.getfixturevalue(who))
    assert client.get(reverse("rollout:release_kill_switch")).status_code == 403
    refused = client.post(reverse("rollout:release_kill_switch"), {"reason": "go", "confirm": "on"})
    assert refused.status_code == 403
    assert FeatureFlag.objects.filter(kill_switch_engaged=True).count() == 2
    with pytest.raises(errors.NotAllowed):
        kill_switch_services.release_kill_switch(actor=request.getfixturevalue(who), reason="go")


def test_allow_lists_take_a_bar_by_name_refuse_an_ambiguous_name_and_remove_by_name(client_for, owner, enable_flag):
    anna = BarFactory(name="Chez Anna")
    twins = BarFactory.create_batch(2, name="Le Comptoir")
    client = client_for(owner)
    url = reverse("rollout:allow_list", args=[enable_flag.key])
    added = client.post(url, {"bar": "chez anna", "action": "add", "reason": "pilot"}, follow=True)
    assert "Chez Anna added to the allow-list" in visible(added)
    ambiguous = visible(client.post(url, {"bar": "Le Comptoir", "action": "add", "reason": "x"}, follow=True))
    assert (
        "2 bars are called “Le Comptoir”" in ambiguous
        and str(twins[0].pk)[:8] in ambiguous
        and str(twins[1].pk)[:8] in ambiguous
    )
    client.post(url, {"bar": str(twins[1].pk), "action": "add", "reason": "pasted id"})
    assert set(enable_flag.allowed_bars.all()) == {anna, twins[1]}
    page = client.get(reverse("rollout:page")).content.decode()
    assert f'<option value="{anna.pk}">Chez Anna</option>' in page
    assert re.search(r'<label for="allow-remove-ENABLE_SWITCHING_MODE">Remove a bar</label>', page)
    client.post(url, {"bar": str(anna.pk), "action": "remove", "reason": "pilot over"})
    assert list(enable_flag.allowed_bars.all()) == [twins[1]]


def test_history_reads_in_words_and_its_csv_holds_json(client_for, owner, enable_flag):
    flag_services.flip_flag(actor=owner, flag_key=enable_flag.key, state="global", reason="go")
    client = client_for(owner)
    page = visible(client.get(reverse("rollout:history")))
    assert "ENABLE_SWITCHING_MODE: on for allow-listed bars only → on for every bar" in page
    assert "{'" not in page and "allow_list →" not in page
    body = b"".join(client.get(reverse("rollout:history_csv")).streaming_content).decode()
    row = next(r for r in csv.DictReader(io.StringIO(body)) if r["kind"] == "flag_flip")
    assert json.loads(row["before"])["state"] == "allow_list" and json.loads(row["after"])["state"] == "global"


def test_the_record_says_why_there_is_no_sign_button_and_prints_human_times(client_for, owner, product_user):
    client = client_for(owner)
    created = client.post(
        reverse("rollout:record_new"),
        {"date": "2026-11-25", "deployer": owner.pk, "reviewer": product_user.pk, "status": "in_progress"},
    )
    record_url = created["Location"]
    deployer_view = visible(client.get(record_url))
    assert "Why you cannot sign yet: Set the status (successful or rolled back) first" in deployer_view
    stranger = client_for(make_support(username="sam"))
    assert f"No “Sign” button for you: Only the deployer ({owner}) and the reviewer" in visible(
        stranger.get(record_url)
    )
    html = client.get(record_url).content.decode()
    assert not re.search(r">\s*\d{4}-\d\d-\d\dT\d\d:\d\d", html)  # no raw ISO time printed


def test_home_links_the_bars_a_manager_runs(client_for, manager, bar):
    page = client_for(manager).get(reverse("home")).content.decode()
    assert f'href="{reverse("mappings:bar_detail", args=[bar.pk])}">{bar.name}</a>' in page


def test_the_home_page_never_reads_a_day_of_sales_for_the_cohort_gate(client_for, owner, fresh_run, monkeypatch):
    from rollout.stages import cohort_compare

    BarFactory.create_batch(2, is_internal=True)
    advance(owner)

    def fresh_read(**kwargs):
        raise AssertionError("the landing page read the cohort figures afresh")

    monkeypatch.setattr(cohort_compare, "compare_cohorts", fresh_read)
    monkeypatch.setattr(cohort_compare, "read_sides", fresh_read)
    page = visible(client_for(owner).get(reverse("home")))
    assert "the figures of this stage are not computed yet" in page
