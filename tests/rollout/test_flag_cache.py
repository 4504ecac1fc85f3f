"""The flag API's per-process cache: served from memory, dropped on every committed change (LISTEN/NOTIFY)."""

import time

import psycopg
import pytest
from django.db import connection

from adminpanel import db_sessions
from adminpanel.models import Bar
from rollout.flags import selectors
from rollout.flags.flag_cache import flag_cache
from rollout.killswitch import services
from rollout.models import ENABLE_SWITCHING_MODE, SHOW_SWITCHING_MODE_UI, FeatureFlag
from tests.factories import BarFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def cache_on(settings):
    settings.ROLLOUT_FLAG_CACHE = True
    assert flag_cache.wait_until_listening(5)
    yield flag_cache
    flag_cache.stop()


@pytest.fixture
def reads(monkeypatch):
    """Counts the database reads behind flags_for_bar."""
    calls = []
    original = selectors.read_flags_for_bar

    def counting(bar_id):
        calls.append(bar_id)
        return original(bar_id)

    monkeypatch.setattr(selectors, "read_flags_for_bar", counting)
    return calls


def eventually(predicate, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_a_reading_is_served_from_memory_until_its_bar_changes(cache_on, reads):
    bar, other = BarFactory(), BarFactory()
    first = selectors.flags_for_bar(bar.pk)
    selectors.flags_for_bar(other.pk)
    assert selectors.flags_for_bar(bar.pk) == first
    assert reads == [str(bar.pk), str(other.pk)]
    Bar.objects.filter(pk=bar.pk).update(settings={"operatingMode": "simplified"})
    assert eventually(lambda: selectors.flags_for_bar(bar.pk).operating_mode == "simplified")
    selectors.flags_for_bar(other.pk)
    assert reads.count(str(other.pk)) == 1  # only the changed bar was dropped


def test_the_kill_switch_reaches_every_cached_reading(cache_on):
    bar = BarFactory()
    FeatureFlag.objects.update(enabled_globally=True)
    assert eventually(lambda: all(selectors.flags_for_bar(bar.pk).flags.values()))
    services.pull_kill_switch(actor=UserFactory(is_superuser=True), reason="error rate above 5 %")
    assert eventually(lambda: not any(selectors.flags_for_bar(bar.pk).flags.values()))
    assert set(selectors.flags_for_bar(bar.pk).flags) == {ENABLE_SWITCHING_MODE, SHOW_SWITCHING_MODE_UI}


def test_a_change_made_in_plain_sql_by_another_client_is_seen(cache_on):
    bar = BarFactory()
    assert selectors.flags_for_bar(bar.pk).operating_mode is None
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other_client:
        other_client.execute(
            "UPDATE bars SET settings = jsonb_set(settings, '{operatingMode}', '\"simplified\"') WHERE id = %s",
            [bar.pk],
        )
    assert eventually(lambda: selectors.flags_for_bar(bar.pk).operating_mode == "simplified")


def test_updates_that_leave_the_operating_mode_alone_keep_the_reading(cache_on, reads):
    bar = BarFactory()
    selectors.flags_for_bar(bar.pk)
    Bar.objects.filter(pk=bar.pk).update(name="Renamed", settings={"theme": "dark"})
    time.sleep(0.2)  # give a (wrong) notification time to arrive
    selectors.flags_for_bar(bar.pk)
    assert reads == [str(bar.pk)]


def test_nothing_is_cached_while_the_listener_is_down(settings, reads):
    settings.ROLLOUT_FLAG_CACHE = True
    flag_cache.stop()
    flag_cache._ensure_listener = lambda: None  # the listener cannot connect
    try:
        bar = BarFactory()
        selectors.flags_for_bar(bar.pk)
        selectors.flags_for_bar(bar.pk)
        assert reads == [str(bar.pk), str(bar.pk)]
    finally:
        del flag_cache._ensure_listener


def test_a_poll_on_a_connection_the_server_dropped_reconnects_and_answers():
    bar = BarFactory()
    assert selectors.read_flags_for_bar(str(bar.pk)) is not None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    # An administrator's own session (direct, not through a pooler, where it could land on that very backend).
    with psycopg.connect(**db_sessions.direct_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    reading = selectors.read_flags_for_bar(str(bar.pk))
    assert reading is not None and reading.bar_id == str(bar.pk)


# --- Issue 15: NOTIFY reaches the process, the bulk snapshot, and the bound on a silent listener ---------------
def test_a_notify_from_any_client_drops_the_readings_and_the_snapshots(cache_on, reads):
    bar = BarFactory()
    selectors.flags_for_bar(bar.pk)
    # Kept once the new bar's own notification has come through (a snapshot read before it is not kept).
    assert eventually(lambda: selectors.flag_snapshot(None) is selectors.flag_snapshot(None))
    first = selectors.flag_snapshot(None)
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other_client:
        other_client.execute("NOTIFY bartender_flags, '*'")
    assert eventually(lambda: selectors.flag_snapshot(None) is not first)
    selectors.flags_for_bar(bar.pk)
    assert reads == [str(bar.pk), str(bar.pk)]


def test_a_new_bar_drops_the_kept_snapshot(cache_on):
    BarFactory()
    before = selectors.flag_snapshot(None)
    new = BarFactory()  # committed: the bars_added trigger notifies
    assert eventually(lambda: str(new.pk).encode() in selectors.flag_snapshot(None).body)
    assert selectors.flag_snapshot(None).etag != before.etag


@pytest.fixture
def deaf_listener(cache_on, monkeypatch):
    """The listener stays connected but hears nothing any more (a half-open connection: no notification, no
    heartbeat answer), on a clock the test drives."""
    from adminpanel.pg_notify import listener

    now = [listener.clock()]
    monkeypatch.setattr(listener, "clock", lambda: now[0])
    listener._heard()
    monkeypatch.setattr(listener, "_heard", lambda: None)
    monkeypatch.setattr(listener, "_callbacks", lambda channel: [])
    return now


def test_a_silent_listener_serves_a_stale_on_for_at_most_listen_max_silence_seconds(settings, deaf_listener):
    settings.LISTEN_MAX_SILENCE_SECONDS = 3
    bar = BarFactory()
    FeatureFlag.objects.update(enabled_globally=True)
    assert eventually(lambda: all(selectors.flags_for_bar(bar.pk).flags.values()))  # cached "on"
    services.pull_kill_switch(actor=UserFactory(is_superuser=True), reason="error rate above 5 %")
    deaf_listener[0] += 2.9  # the notification was lost: within the bound, the cached answer may still be served
    assert all(selectors.flags_for_bar(bar.pk).flags.values())
    deaf_listener[0] += 0.1  # 3 s without a word from PostgreSQL: caches stop serving, the database answers
    assert not any(selectors.flags_for_bar(bar.pk).flags.values())
    assert flag_cache.get(str(bar.pk)) is None


def test_a_lost_listener_connection_reconnects_and_serves_fresh_answers(cache_on):
    from adminpanel.pg_notify import listener

    bar = BarFactory()
    assert selectors.flags_for_bar(bar.pk).operating_mode is None
    old_pid = listener.backend_pid
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [old_pid])
        # Changed while the listener is down or reconnecting: its notification may be lost.
        admin.execute(
            "UPDATE bars SET settings = jsonb_set(settings, '{operatingMode}', '\"simplified\"') WHERE id = %s",
            [bar.pk],
        )
    assert eventually(lambda: selectors.flags_for_bar(bar.pk).operating_mode == "simplified")
    assert eventually(lambda: listener.listening() and listener.backend_pid != old_pid, timeout=10)
    assert selectors.flags_for_bar(bar.pk).operating_mode == "simplified"
