"""Confirmations that bind (issue 22): a token is bound to the user, the action, its object and the state it was
shown for, is used once and expires; every case the issue found through the pages is refused, nothing changed."""

import re
import threading
import time
from unittest import mock

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from adminpanel.permissions import FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from rollout import errors
from rollout.killswitch import services
from rollout.models import EventKind, FeatureFlag, RolloutEvent, RunbookRun, RunbookStep
from tests.factories import BarFactory, UserFactory, grant_owner, make_product, meet_phase1, state, token_from

pytestmark = pytest.mark.runs_phase1


def visible(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def token_in(response) -> str:
    return re.search(r'name="confirm_token" value="([^"]+)"', response.content.decode()).group(1)


def engaged() -> int:
    return FeatureFlag.objects.filter(kill_switch_engaged=True).count()


@pytest.fixture
def second_owner(db):
    return grant_owner(make_product(username="owner_two"), FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK)


def test_a_flip_confirmed_by_one_product_owner_and_posted_by_another_is_refused(owner, second_owner, enable_flag):
    url = reverse("rollout:flip", args=[enable_flag.key])
    data = {"state": "global", "reason": "all in"}
    first, second = Client(), Client()
    first.force_login(owner)
    second.force_login(second_owner)
    token = token_in(first.post(url, data))
    refused = second.post(url, {**data, "confirm_token": token})
    assert refused.status_code == 200 and "given by another account" in visible(refused)
    enable_flag.refresh_from_db()
    assert not enable_flag.enabled_globally and not RolloutEvent.objects.exists()
    # The owner who confirmed it still can (the refused attempt did not use the token up).
    first.post(url, {**data, "confirm_token": token})
    enable_flag.refresh_from_db()
    assert enable_flag.enabled_globally
    assert RolloutEvent.objects.get(kind=EventKind.FLAG_FLIP).actor == owner


def test_an_advance_confirmed_by_product_and_posted_by_admin_is_refused(owner, fresh_run):
    meet_phase1()  # stage 4a needs Phase 1 done
    BarFactory.create_batch(2, is_internal=True)
    admin = UserFactory(username="admin", is_superuser=True, is_staff=True)
    product, superuser = Client(), Client()
    product.force_login(owner)
    superuser.force_login(admin)
    data = {"version": state().version, "batch_size": ""}
    token = token_in(product.post(reverse("rollout:advance"), data))
    refused = superuser.post(reverse("rollout:advance"), {**data, "confirm_token": token})
    assert "given by another account" in visible(refused)
    assert state().stage == "off" and state().version == data["version"]
    # The cockpit's token is bound the same way.
    cockpit_token = token_from(product)
    refused = superuser.post(
        reverse("rollout:cockpit_advance"),
        {"version": data["version"], "confirm": "1", "confirm_token": cockpit_token},
    )
    assert "given by another account" in visible(refused) and state().stage == "off"


def test_the_cockpit_advance_without_a_token_changes_nothing(client_for, owner, fresh_run):
    BarFactory.create_batch(2, is_internal=True)
    client = client_for(owner)
    version = state().version
    response = client.post(reverse("rollout:cockpit_advance"), {"version": version, "confirm": "1"})
    # The answer is the confirmation page (the bars it switches), with a fresh token; nothing changed.
    assert response.status_code == 200 and "switches 2 bars to simplified mode" in visible(response)
    assert state().stage == "off" and state().version == version and not RolloutEvent.objects.exists()
    forged = client.post(reverse("rollout:cockpit_advance"), {"version": version, "confirm": "1", "confirm_token": "x"})
    assert "not valid" in visible(forged) and state().stage == "off"


def test_a_release_opened_for_one_kill_switch_does_not_release_the_next_one(client_for, owner):
    services.pull_kill_switch(actor=owner, reason="first alarm")
    client = client_for(owner)
    token = token_from(client, reverse("rollout:release_kill_switch"))
    services.release_kill_switch(actor=owner, reason="fixed")
    services.pull_kill_switch(actor=owner, reason="second alarm")
    response = client.post(
        reverse("rollout:release_kill_switch"), {"reason": "fixed", "confirm": "on", "confirm_token": token}
    )
    assert response.status_code == 400 and "has changed since" in visible(response)
    assert engaged() == 2
    assert RolloutEvent.objects.filter(kind=EventKind.KILL_SWITCH_RELEASE).count() == 1
    # The page answered shows the kill switch engaged now, with its own token.
    assert "second alarm" in visible(response) and token_in(response) != token


def test_the_release_service_refuses_another_kill_switch_than_the_one_confirmed(owner):
    from rollout.killswitch.selectors import kill_switch_identity

    services.pull_kill_switch(actor=owner, reason="first alarm")
    confirmed = kill_switch_identity()
    services.release_kill_switch(actor=owner, reason="fixed")
    services.pull_kill_switch(actor=owner, reason="second alarm")
    with pytest.raises(errors.RolloutError, match="not the one you confirmed"):
        services.release_kill_switch(actor=owner, reason="fixed", expected=confirmed)
    assert engaged() == 2


def test_a_product_owner_without_trigger_rollback_cannot_run_the_rollback_rehearsal(client_for, db):
    flipper = grant_owner(make_product(username="flipper"))  # flip_flag on both flags, no trigger_rollback
    url = reverse("rollout:runbook_run_step", args=[RunbookStep.ROLLBACK_REHEARSAL])
    response = client_for(flipper).post(url, {"confirm": "1"}, follow=True)
    assert "trigger_rollback" in visible(response)
    assert not RunbookRun.objects.exists() and engaged() == 0
    assert not RolloutEvent.objects.exists()


def test_a_used_token_cannot_be_replayed(client_for, owner):
    client = client_for(owner)
    url = reverse("rollout:kill_switch")
    data = {"reason": "errors", "confirm": "on", "confirm_token": token_from(client, url)}
    assert client.post(url, data).status_code == 302 and engaged() == 2
    services.release_kill_switch(actor=owner, reason="fixed")
    replay = client.post(url, data)
    assert replay.status_code == 400 and "already used" in visible(replay)
    assert engaged() == 0
    assert RolloutEvent.objects.filter(kind=EventKind.KILL_SWITCH).count() == 1


def test_an_old_token_is_refused(client_for, owner, settings):
    settings.CONFIRMATION_MAX_AGE_SECONDS = 15 * 60
    client = client_for(owner)
    url = reverse("rollout:kill_switch")
    data = {"reason": "errors", "confirm": "on", "confirm_token": token_from(client, url)}
    later = time.time() + 15 * 60 + 5
    with mock.patch("django.core.signing.time.time", return_value=later):
        response = client.post(url, data)
    assert response.status_code == 400 and "older than 15 minutes" in visible(response)
    assert engaged() == 0


@pytest.mark.django_db(transaction=True)
def test_the_losers_of_twenty_simultaneous_kill_switch_clicks_are_told_it_was_already_engaged(owner):
    url = reverse("rollout:kill_switch")
    clients = []
    for _ in range(20):
        client = Client()
        client.force_login(owner)
        clients.append((client, token_from(client, url)))
    barrier = threading.Barrier(20)
    pages, errors = [], []

    def click(client, token):
        try:
            barrier.wait(timeout=10)
            response = client.post(url, {"reason": "errors", "confirm": "on", "confirm_token": token}, follow=True)
            pages.append((response.status_code, visible(response)))
        except Exception as exc:  # noqa: BLE001 (collected and asserted below)
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=click, args=pair) for pair in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(pages) == 20
    assert all(status == 200 for status, _ in pages)
    assert sum("Kill switch engaged: both flags are off" in text for _, text in pages) == 1
    assert sum("The kill switch already was engaged" in text for _, text in pages) == 19
    assert RolloutEvent.objects.filter(kind=EventKind.KILL_SWITCH).count() == 1
