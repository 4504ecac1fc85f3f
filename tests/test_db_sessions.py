"""Session advisory locks on a direct connection (adminpanel/db_sessions.py, issue 20's connection poolers): the
connection is open only while its thread holds a lock, a forked process never uses its parent's, and a lost one
fails like the panel's own connection and forgets the locks that died with it."""

import os
import time

import pytest
from django.db import OperationalError, connection

from adminpanel import db_sessions

pytestmark = pytest.mark.django_db

KEY = 0x706F6F6C  # "pool" in ASCII


@pytest.fixture
def direct(settings):
    """DATABASE_DIRECT_URL names the test database itself (as Supabase's direct connection beside its pooler)."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    settings.DATABASE_DIRECT_URL = (
        f"postgresql://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )
    db_sessions.close()
    yield
    db_sessions.close()


def holders(key: int, obj: int | None = None) -> set[int]:
    """Server processes holding the advisory lock (read from the panel's own connection)."""
    with connection.cursor() as cursor:
        if obj is None:
            cursor.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 "
                "AND ((classid::bigint << 32) | objid::bigint) = %s",
                [key],
            )
        else:
            cursor.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2 "
                "AND classid::bigint = %s AND objid::bigint = %s",
                [key, obj],
            )
        return {row[0] for row in cursor.fetchall()}


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # the test's transaction would keep its first snapshot
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0] == 1


def eventually(predicate, timeout=5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_the_direct_connection_is_open_only_while_its_thread_holds_a_lock(direct):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        panel_pid = cursor.fetchone()[0]
    assert db_sessions.try_lock(KEY, 1)
    assert db_sessions.try_lock(KEY, 2, shared=True)
    (lock_pid,) = holders(KEY, 1)
    assert lock_pid != panel_pid  # on the direct connection, not the panel's (pooled) one
    assert holders(KEY, 2) == {lock_pid}

    assert db_sessions.unlock(KEY, 1)
    assert backend_alive(lock_pid) and holders(KEY, 2) == {lock_pid}  # still holds the shared one
    assert db_sessions.unlock(KEY, 2, shared=True)
    assert eventually(lambda: not backend_alive(lock_pid))  # no idle direct connection beside the pool


def test_held_and_is_free_leave_no_connection_behind(direct):
    with db_sessions.held(KEY) as taken:
        assert taken
        (lock_pid,) = holders(KEY)
        assert db_sessions.is_free(KEY + 1)  # a probe of another key, on the same connection
        assert holders(KEY) == {lock_pid}
    assert eventually(lambda: not backend_alive(lock_pid))
    assert db_sessions.is_free(KEY)
    assert holders(KEY) == set()


def test_unlocking_a_lock_this_thread_does_not_hold_opens_no_connection(direct):
    assert db_sessions.unlock(KEY) is False
    assert db_sessions._state().conn is None


def test_a_forked_process_takes_its_own_locks_never_on_its_parents_connection(direct):
    assert db_sessions.try_lock(KEY)
    (parent_pid,) = holders(KEY)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the child: a fresh session, where the parent's lock is someone else's
        try:
            answer = b"taken" if db_sessions.try_lock(KEY) else b"refused"
        except BaseException as exc:  # noqa: BLE001 (reported to the parent)
            answer = repr(exc).encode()
        os.write(write, answer)
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1000)
    os.close(read)
    os.waitpid(child, 0)
    assert answer == b"refused"  # with the parent's socket it would be re-entrant: "taken" by a second process
    assert holders(KEY) == {parent_pid}
    assert db_sessions.unlock(KEY)


def test_a_lost_direct_connection_fails_as_a_django_error_and_forgets_its_locks(direct):
    assert db_sessions.try_lock(KEY)
    (lock_pid,) = holders(KEY)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [lock_pid])
    assert eventually(lambda: not backend_alive(lock_pid))
    with pytest.raises(OperationalError):  # Django's, like any error of the panel's own connection
        db_sessions.try_lock(KEY + 1)
    assert db_sessions.unlock(KEY) is False  # it died with its session; nothing to open a connection for
    assert db_sessions._state().conn is None
    assert db_sessions.try_lock(KEY)  # a new connection takes it again
    assert db_sessions.unlock(KEY)
