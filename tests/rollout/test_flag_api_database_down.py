"""The flag API and the pages when PostgreSQL is unreachable (issue 22): the connection really points at a closed
port (psycopg's own connection error), the process clock is driven."""

import json
import socket
from contextlib import contextmanager

import pytest
from django.db import connection
from django.test import Client

from rollout.flags import stale_flags
from rollout.killswitch import services
from rollout.models import FeatureFlag
from tests.factories import BarFactory, issue_api_token, make_product

pytestmark = pytest.mark.django_db(transaction=True)

FLAGS, SNAPSHOT = "/api/v1/flags", "/api/v1/flags/snapshot"


@contextmanager
def database_unreachable():
    """Point the connection at a port nothing listens on (refused at once), as during a PostgreSQL restart."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    connection.close()
    saved = {key: connection.settings_dict[key] for key in ("HOST", "PORT")}
    connection.settings_dict.update(HOST="127.0.0.1", PORT=str(closed_port))
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict.update(saved)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(stale_flags, "clock", lambda: now[0])

    def advance(seconds: float) -> None:
        now[0] += seconds

    return advance


@pytest.fixture
def setup(owner):
    on_bar, other_bar = BarFactory(), BarFactory()
    for flag in FeatureFlag.objects.all():
        flag.allowed_bars.add(on_bar, other_bar)
    return on_bar, other_bar, issue_api_token("pos")


def get(client, url, token, bar=None):
    return client.get(url, {"bar": str(bar.pk)} if bar else {}, headers={"Authorization": f"Bearer {token}"})


def assert_json_only(response):
    assert response["Content-Type"] == "application/json"
    assert "csrftoken" not in response.cookies and "sessionid" not in response.cookies
    return json.loads(response.content)


def test_the_last_known_flags_are_served_marked_stale_with_their_age(client, setup, clock):
    bar, _, token = setup
    fresh, fresh_snapshot = get(client, FLAGS, token, bar), get(client, SNAPSHOT, token)
    assert fresh.status_code == 200 and "X-Flags-Stale" not in fresh
    clock(42)
    with database_unreachable():
        stale = get(client, FLAGS, token, bar)
        stale_snapshot = get(client, SNAPSHOT, token)
    assert stale.status_code == 200 and stale.content == fresh.content
    assert assert_json_only(stale)["flags"] == {"ENABLE_SWITCHING_MODE": True, "SHOW_SWITCHING_MODE_UI": True}
    assert stale["Age"] == "42" and stale["X-Flags-Stale"].startswith("database unreachable")
    assert stale["ETag"] == fresh["ETag"]
    assert stale_snapshot.status_code == 200 and stale_snapshot.content == fresh_snapshot.content
    assert stale_snapshot["Age"] == "42"
    # Back up: fresh answers again, unmarked.
    again = get(client, FLAGS, token, bar)
    assert again.status_code == 200 and "X-Flags-Stale" not in again


def test_past_the_age_limit_or_never_answered_it_is_503_in_json_with_retry_after(client, setup, clock, settings):
    settings.FLAG_API_STALE_MAX_SECONDS = 60
    bar, other_bar, token = setup
    get(client, FLAGS, token, bar)
    clock(60)
    with database_unreachable():
        assert get(client, FLAGS, token, bar).status_code == 200  # exactly at the limit: still served
        clock(1)
        too_old = get(client, FLAGS, token, bar)
        never_asked = get(client, FLAGS, token, other_bar)
        other_token = get(client, FLAGS, "another-token", bar)
        snapshot = get(client, SNAPSHOT, token)
    for response in (too_old, never_asked, other_token, snapshot):
        assert response.status_code == 503
        assert response["Retry-After"] == "5"
        assert assert_json_only(response)["error"] == "database_unavailable"
        assert "X-Flags-Stale" not in response


def test_no_stale_answer_is_on_once_a_kill_switch_was_seen(client, setup, clock, owner):
    bar, other_bar, token = setup
    get(client, FLAGS, token, bar)
    get(client, FLAGS, token, other_bar)
    services.pull_kill_switch(actor=owner, reason="errors")
    clock(2)  # the process looks at the kill switch again (at least every second, and on every flag change)
    off = get(client, FLAGS, token, bar)  # this bar's answer is read again: off
    assert json.loads(off.content)["flags"] == {"ENABLE_SWITCHING_MODE": False, "SHOW_SWITCHING_MODE_UI": False}
    with database_unreachable():
        still_off = get(client, FLAGS, token, bar)
        was_on = get(client, FLAGS, token, other_bar)  # remembered from before the kill switch: never served
    assert still_off.status_code == 200 and still_off.content == off.content and "X-Flags-Stale" in still_off
    assert was_on.status_code == 503 and assert_json_only(was_on)["error"] == "database_unavailable"


def test_pages_answer_database_unreachable_in_the_layout_not_a_500(db):
    user = make_product(username="pat")
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    with database_unreachable():
        page = browser.get("/rollout/")
    html = page.content.decode()
    assert page.status_code == 503 and page["Retry-After"]
    assert "The database is unreachable" in html and 'id="database-unreachable"' in html
    assert 'class="topbar"' in html and "panel.css" in html  # the layout, not the bare fallback
    assert "Something went wrong" not in html
