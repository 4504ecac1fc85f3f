import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from adminpanel.permissions import FLIP_FLAG
from rollout.models import EventKind, FeatureFlag, RolloutEvent
from tests.factories import BarFactory, advance, confirmed_post, make_product, mode, state, token_from

WRITES = [
    ("rollout:flip", {"key": "ENABLE_SWITCHING_MODE"}, {"state": "global", "reason": "x"}),
    ("rollout:allow_list", {"key": "ENABLE_SWITCHING_MODE"}, {"action": "add", "reason": "x"}),
    ("rollout:advance", {}, {"version": 1, "override_reason": "x"}),
    ("rollout:pause", {}, {"reason": "x"}),
    ("rollout:resume", {}, {"reason": "x"}),
    ("rollout:stage_rollback", {}, {"version": 1, "reason": "x"}),
    ("rollout:kill_switch", {}, {"reason": "x", "confirm": "on"}),
]


def flags_snapshot():
    return list(FeatureFlag.objects.order_by("key").values_list("enabled_globally", "kill_switch_engaged", "version"))


def test_a_product_owner_with_flip_on_one_flag_cannot_flip_the_other(client_for, product_user, enable_flag, ui_flag):
    assign_perm(FLIP_FLAG, product_user, enable_flag)
    client = client_for(product_user)
    refused = client.post(reverse("rollout:flip", args=[ui_flag.key]), {"state": "global", "reason": "try"})
    assert refused.status_code == 403
    ui_flag.refresh_from_db()
    assert not ui_flag.enabled_globally
    flip = reverse("rollout:flip", args=[enable_flag.key])
    allowed = confirmed_post(client, flip, {"state": "global", "reason": "go"})
    assert allowed.status_code == 302
    enable_flag.refresh_from_db()
    assert enable_flag.enabled_globally


def test_flipping_a_flag_to_its_own_state_says_so_instead_of_flipped(client_for, owner, enable_flag):
    client = client_for(owner)
    url = reverse("rollout:flip", args=[enable_flag.key])
    flipped = confirmed_post(client, url, {"state": "global", "reason": "go"}, follow=True).content.decode()
    assert "ENABLE_SWITCHING_MODE flipped: now On for every bar." in flipped
    same = client.post(url, {"state": "global", "reason": "again"}, follow=True).content.decode()
    assert "already is on for every bar: nothing changed." in same
    assert "flipped" not in same.split('class="messages"')[1].split("</ul>")[0]
    assert RolloutEvent.objects.filter(kind=EventKind.FLAG_FLIP).count() == 1


@pytest.mark.parametrize("who", ["support_user", "manager", "plain_user"])
def test_support_bar_managers_and_others_can_change_nothing(request, client_for, who, bar):
    client = client_for(request.getfixturevalue(who))
    before = flags_snapshot(), state().version
    for name, kwargs, data in WRITES:
        if "bar" not in data and name == "rollout:allow_list":
            data = {**data, "bar": str(bar.pk)}
        assert client.post(reverse(name, kwargs=kwargs), data).status_code == 403, name
    assert (flags_snapshot(), state().version) == before
    assert not RolloutEvent.objects.exists()


def test_support_reads_the_page_history_and_export(client_for, support_user):
    client = client_for(support_user)
    page = client.get(reverse("rollout:page"))
    assert page.status_code == 200
    assert b'id="advance"' not in page.content and b'id="kill-switch"' not in page.content
    assert client.get(reverse("rollout:history")).status_code == 200
    assert client.get(reverse("rollout:history_csv")).status_code == 200
    assert client.get(reverse("rollout:records")).status_code == 200


def test_a_bar_manager_sees_nothing_of_the_rollout(client_for, manager):
    client = client_for(manager)
    for name in ("rollout:page", "rollout:history", "rollout:history_csv", "rollout:records", "rollout:kill_switch"):
        assert client.get(reverse(name)).status_code == 403, name
    assert b'href="/rollout/"' not in client.get(reverse("home")).content


def test_the_nav_link_shows_for_product_support_and_superusers(client_for, product_user, support_user, superuser):
    for user in (product_user, support_user, superuser):
        assert b'href="/rollout/"' in client_for(user).get(reverse("home")).content


def test_the_page_shows_each_gate_with_why_and_who_may_flip(client_for, owner):
    BarFactory(is_internal=True)
    page = client_for(owner).get(reverse("rollout:page"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "✗ fail" in text and "No health run has finished yet" in text
    assert "owner" in text  # who may flip each flag
    assert 'id="advance"' in text


def test_the_page_polls_its_stages_partial_with_htmx(client_for, owner):
    partial = client_for(owner).get(reverse("rollout:page"), headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert b'id="stages"' in partial.content and b"<html" not in partial.content


def test_a_closed_gate_is_reported_on_the_page_and_changes_nothing(client_for, owner):
    BarFactory(is_internal=True)
    client = client_for(owner)
    response = confirmed_post(client, reverse("rollout:advance"), {"version": state().version}, follow=True)
    assert "No health run has finished yet" in response.content.decode()
    assert state().stage == "off"


def test_advancing_through_the_page(client_for, owner, fresh_run):
    bar = BarFactory(is_internal=True)
    client = client_for(owner)
    response = confirmed_post(client, reverse("rollout:advance"), {"version": state().version, "batch_size": ""})
    assert response.status_code == 302
    assert state().stage == "4a" and mode(bar) == "simplified"


def test_a_gate_override_without_permission_is_refused_through_the_page(client_for, db):
    owner_without_override = make_product(username="no_override")
    for flag in FeatureFlag.objects.all():
        assign_perm(FLIP_FLAG, owner_without_override, flag)
    BarFactory(is_internal=True)
    response = client_for(owner_without_override).post(
        reverse("rollout:advance"), {"version": state().version, "override_reason": "hurry"}
    )
    assert response.status_code == 403
    assert state().stage == "off" and not RolloutEvent.objects.exists()


def test_bad_input_gets_a_message_and_changes_nothing(client_for, owner):
    client = client_for(owner)
    response = client.post(reverse("rollout:flip", args=["ENABLE_SWITCHING_MODE"]), {"state": "maybe"}, follow=True)
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    response = client.post(
        reverse("rollout:allow_list", args=["ENABLE_SWITCHING_MODE"]),
        {"bar": "not-a-uuid", "action": "add", "reason": "x"},
        follow=True,
    )
    assert "No bar you may see is called “not-a-uuid”" in response.content.decode()
    response = client.post(reverse("rollout:advance"), {"version": "x", "batch_size": "-3"}, follow=True)
    assert response.status_code == 200
    assert client.post(reverse("rollout:flip", args=["NO_SUCH_FLAG"]), {"state": "off"}).status_code == 404
    assert not RolloutEvent.objects.exists() and state().stage == "off"


def test_the_kill_switch_needs_its_confirmation(client_for, owner):
    client = client_for(owner)
    assert client.get(reverse("rollout:kill_switch")).status_code == 200
    unconfirmed = client.post(reverse("rollout:kill_switch"), {"reason": "errors"})
    assert unconfirmed.status_code == 400 and "Tick the confirmation" in unconfirmed.content.decode()
    assert not FeatureFlag.objects.filter(kill_switch_engaged=True).exists()
    token = token_from(client, reverse("rollout:kill_switch"))
    data = {"reason": "errors", "confirm": "on", "confirm_token": token}
    confirmed = client.post(reverse("rollout:kill_switch"), data)
    assert confirmed.status_code == 302
    assert FeatureFlag.objects.filter(kill_switch_engaged=True).count() == 2


def test_stage_rollback_through_the_page(client_for, owner, fresh_run):
    bar = BarFactory(is_internal=True)
    advance(owner)
    response = client_for(owner).post(
        reverse("rollout:stage_rollback"), {"version": state().version, "reason": "errors in 4a"}
    )
    assert response.status_code == 302
    assert state().stage == "off" and mode(bar) is None
