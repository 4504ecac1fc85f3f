"""OFREP proven with the real OpenFeature clients: `openfeature-sdk` with `openfeature-provider-ofrep` against the
panel served by granian (as production serves it), with the per-process flag cache and its LISTEN on."""

import http.client
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from openfeature import api as openfeature
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from rollout.flags import services as flag_services
from rollout.killswitch import services as kill_switch_services
from rollout.models import ENABLE_SWITCHING_MODE, SHOW_SWITCHING_MODE_UI
from tests.factories import BarFactory, issue_api_token
from tests.openapi_contract import check_requests_response

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(settings.BASE_DIR)
BIN = Path(sys.executable).parent
FLAGS = (ENABLE_SWITCHING_MODE, SHOW_SWITCHING_MODE_UI)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/accounts/login/")
        return conn.getresponse().status == 200
    except OSError:
        return False
    finally:
        conn.close()


@pytest.fixture
def panel_url():
    """The panel under granian (one worker, two threads) on the test database; its URL."""
    db = connection.settings_dict
    url = f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "tests.settings", "ROLLOUT_FLAG_CACHE": "1"}
    server = subprocess.Popen(  # noqa: S603
        [
            str(BIN / "granian"),
            *f"--interface wsgi --working-dir {ROOT} --host 127.0.0.1 --port {port} --workers 1 --blocking-threads 2"
            " --log-level warning --no-access-log config.wsgi:application".split(),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _answers(port):
            assert time.monotonic() < deadline, "granian did not answer within 60 s"
            assert server.poll() is None, "granian exited"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _panel_connections() and time.monotonic() < deadline:
            time.sleep(0.1)  # granian's connections end with its process; the test database is dropped after


def _panel_connections() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        return cursor.fetchone()[0]


def client_for(panel_url: str, token: str, domain: str):
    provider = OFREPProvider(panel_url, headers_factory=lambda: {"Authorization": f"Bearer {token}"}, timeout=10)
    provider.session.hooks["response"].append(check_requests_response)  # each answer against the OpenAPI contract
    openfeature.set_provider(provider, domain)
    return openfeature.get_client(domain)


@pytest.fixture
def sdk():
    yield
    openfeature.clear_providers()


def eventually(predicate, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.01)


def test_both_flags_through_the_openfeature_sdk(panel_url, sdk, owner):
    listed, other = BarFactory(name="Maquis Baobab"), BarFactory(name="Chez Fatou")
    for flag in FLAGS:
        flag_services.change_allow_list(actor=owner, flag_key=flag, bar=listed, add=True, reason="4a internal")
    pos = client_for(panel_url, issue_api_token("pos-openfeature"), "pos")
    on_bar = EvaluationContext(targeting_key=str(listed.pk), attributes={"userId": "server-7"})
    off_bar = EvaluationContext(targeting_key=str(other.pk))

    for flag in FLAGS:
        details = pos.get_boolean_details(flag, False, on_bar)
        assert (details.value, details.reason, details.error_code) == (True, Reason.TARGETING_MATCH, None), flag
        details = pos.get_boolean_details(flag, True, off_bar)
        assert (details.value, details.reason, details.error_code) == (False, Reason.DEFAULT, None), flag

    kill_switch_services.pull_kill_switch(actor=owner, reason="error rate above 5 % on the simplified cohort")
    for flag in FLAGS:  # the server's cache is dropped by NOTIFY: wait for that event, not for a fixed time
        details = eventually(
            lambda flag=flag: (d := pos.get_boolean_details(flag, True, on_bar)).reason == Reason.DISABLED and d
        )
        assert details and (details.value, details.reason) == (False, Reason.DISABLED), flag

    missing = pos.get_boolean_details("NO_SUCH_FLAG", True, on_bar)
    assert (missing.value, missing.reason, missing.error_code) == (True, Reason.ERROR, ErrorCode.FLAG_NOT_FOUND)

    intruder = client_for(panel_url, "not-a-token", "intruder")
    refused = intruder.get_boolean_details(ENABLE_SWITCHING_MODE, False, on_bar)
    assert (refused.value, refused.reason, refused.error_code) == (False, Reason.ERROR, ErrorCode.GENERAL)
    assert refused.error_message == "unauthorized"

    no_bar = pos.get_boolean_details(ENABLE_SWITCHING_MODE, False, EvaluationContext(targeting_key="not-a-bar"))
    assert (no_bar.reason, no_bar.error_code) == (Reason.ERROR, ErrorCode.INVALID_CONTEXT)
