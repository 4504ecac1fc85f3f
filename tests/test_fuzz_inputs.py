"""No input is a server error (issue 10): hypothesis throws arbitrary text, bytes and JSON at every query parameter
of every GET page and at every API body, and asserts that every answer is below 500.

The parameters of a page are found by asking the page itself: each page is first requested plainly while every
read of a ``QueryDict`` is recorded, so a parameter added to a view or a filter form later is fuzzed without
anyone listing it here. Deterministic by default (a fixed, bounded number of examples, so CI never turns red by
chance); ``FUZZ_PROFILE=fuzz`` runs many random examples by hand.
"""

import json
import os
import re
import uuid
from contextlib import ExitStack, contextmanager
from unittest.mock import patch
from urllib.parse import quote, quote_from_bytes

import pytest
from django.contrib import admin
from django.http import QueryDict
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adminpanel.models import ApiClient, MigrationServerIdLog, PanelEvent
from backfill.models import BackfillRun
from backfill.validation import run_validation
from mappings.models import MappingImport
from monitoring.health import services as monitoring_services
from monitoring.models import Alert
from rollout.models import DeploymentRecord, EventKind, FeatureFlag, RolloutEvent
from tests.factories import (
    AuditLogFactory,
    BarFactory,
    BarMemberFactory,
    SaleFactory,
    ServerFactory,
    ServerNameMappingFactory,
    UserFactory,
)
from tests.test_pages import CONVERTER, ROUTES

pytestmark = pytest.mark.django_db

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "5")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
PROFILE = settings.get_profile(os.environ.get("FUZZ_PROFILE", "ci"))

# Always tried, whatever a page reads: the names the panel uses for searches, pages, cursors and redirects.
COMMON_PARAMS = {"q", "page", "after", "before", "section", "name", "bar", "next", "o", "p"}
# Values known to have broken pages: NUL bytes, superscript and other non-ASCII digits, huge and negative numbers.
NASTY = [
    "\x00",
    "a\x00b",
    "²",
    "١٢",
    "-1",
    "0",
    "9" * 30,
    "1e400",
    "NaN",
    " ",
    "%",
    "'",
    "\ud7ff",
    "\u202e",
    "2026-13-45T99:99:99_1",
    "2026-01-01T00:00:00+00:00_²",
]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8,
)
# A parameter's value as sent on the wire (already percent-encoded): text, raw bytes (invalid UTF-8 too) or JSON.
PARAM_VALUES = st.one_of(
    st.sampled_from(NASTY).map(lambda text: quote(text.encode("utf-8", "surrogatepass"))),
    st.text(max_size=30).map(lambda text: quote(text.encode("utf-8", "surrogatepass"))),
    st.binary(max_size=20).map(quote_from_bytes),
    JSON_VALUES.map(lambda value: quote(json.dumps(value))),
)


@pytest.fixture
def basics(db):
    """A superuser, a bar with a server and a mapping, audit rows, a pending import and a fleet-wide API token."""
    root = UserFactory(username="fuzz_root", is_superuser=True, is_staff=True)
    bar = BarFactory(name="Fuzz Bar")
    server = ServerFactory(username="fuzz_server")
    BarMemberFactory(bar=bar, user=server)
    mapping = ServerNameMappingFactory(bar=bar, server_name="Aïcha", user=server)
    AuditLogFactory(bar=bar)
    PanelEvent.objects.create(actor=root, actor_name="fuzz_root", action="fuzz", target_type="x", target_id="1")
    pending = MappingImport.objects.create(bar=bar, created_by=root, content="server_name,username\n")
    client = ApiClient(name="fuzz-pos", all_bars=True)
    token = client.issue_token()
    client.save()
    return {"root": root, "bar": bar, "server": server, "import": pending, "token": token, "mapping": mapping}


@pytest.fixture
def world(basics):
    """One of every object the pages show, so lists render rows and pagers render cursors."""
    root, bar, server = basics["root"], basics["bar"], basics["server"]
    sale = SaleFactory(bar=bar, server_name="Aïcha", created_by=server)
    MigrationServerIdLog.objects.create(sale_id=sale.pk, bar=bar, server_name="Aïcha", resolved_server_id=server.pk)
    health_run = monitoring_services.run_health_checks()
    alert = Alert.objects.create(check_name="rls_violations", severity="critical", state="resolved")
    backfill_run = BackfillRun.objects.create(configured_batch_size=10, batch_size=10, status="finished")
    validation = run_validation(run_by=root)
    reviewer = UserFactory(username="fuzz_reviewer")
    record = DeploymentRecord.objects.create(deployer=root, reviewer=reviewer)
    RolloutEvent.objects.create(kind=EventKind.FLAG_FLIP, actor=root, actor_name="fuzz_root", reason="fuzz")
    ids = {
        "backfill/runs/": backfill_run.pk,
        "monitoring/runs/": health_run.pk,
        "monitoring/alerts/": alert.pk,
        "validation/": validation.pk,
        "rollout/records/": record.pk,
        "mappings/bars/": basics["mapping"].pk,
    }
    return {**basics, "ids": ids}


def _fill(route: str, world) -> str:
    def value(match):
        kind, name = match.group("kind") or "str", match.group("name")
        if kind == "uuid":
            return str(world["bar"].pk) if name == "bar_id" else str(world["import"].pk)
        if kind == "int":
            return str(next((pk for prefix, pk in world["ids"].items() if route.startswith(prefix)), 1))
        return FeatureFlag.objects.order_by("key").first().key if name == "key" else "x"

    return "/" + CONVERTER.sub(value, route)


def _get(client, url: str, **headers):
    """GET and read the whole body: streamed CSV exports fail while streaming, not before."""
    response = client.get(url, headers=headers)
    if response.streaming:
        b"".join(response.streaming_content)
    return response


@contextmanager
def params_read():
    """The names of every QueryDict entry read inside the block."""
    names: set[str] = set()
    patches = []
    for method in ("get", "getlist", "__getitem__", "__contains__"):
        original = getattr(QueryDict, method)

        def recording(self, key, *args, _original=original, **kwargs):
            names.add(key)
            return _original(self, key, *args, **kwargs)

        patches.append(patch.object(QueryDict, method, recording))
    with ExitStack() as stack:
        for one in patches:
            stack.enter_context(one)
        yield names


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{quote(name)}={value}" for name, value in params.items())


# Tried on each parameter alone (the rest of the work is hypothesis's, raw bytes included): a NUL byte and a
# superscript digit, the two kinds of value that broke pages before.
SWEEP = [quote("a\x00b"), quote("²")]
# Given to every parameter at once, htmx or not.
ALL_AT_ONCE = ["\x00", "²", "9" * 30, "'", "2026-13-45T99:99:99_1"]
GET_ROUTES = [route for route, view in ROUTES if not route.startswith("api/")]


def test_no_query_parameter_of_any_page_makes_a_server_error(client, world):
    """Every GET page of the URLconf, every parameter it reads (and the common ones), as superuser."""
    client.force_login(world["root"])
    failures = []

    def attempt(url: str, query: str, htmx: bool = False):
        try:
            status = _get(client, f"{url}?{query}", **({"HX-Request": "true"} if htmx else {})).status_code
        except Exception as exc:  # noqa: BLE001 (the test client re-raises what the view raised: a 500)
            failures.append((url, query, repr(exc)[:300]))
            return
        if status >= 500:
            failures.append((url, query, status))

    pages = 0
    for route in GET_ROUTES:
        url = _fill(route, world)
        with params_read() as read:
            plain = _get(client, url)
        assert plain.status_code < 500, url
        if plain.status_code == 405:
            continue  # POST only: no GET page here
        pages += 1
        for name in sorted(read):
            for value in SWEEP:
                attempt(url, _query({name: value}))
        names = sorted(read | COMMON_PARAMS)
        for number, value in enumerate(ALL_AT_ONCE):
            query = _query(dict.fromkeys(names, quote(value.encode("utf-8", "surrogatepass"))))
            attempt(url, query, htmx=number % 2 == 0)

        @PROFILE
        @given(params=st.dictionaries(st.sampled_from(names), PARAM_VALUES, min_size=1, max_size=4), htmx=st.booleans())
        def fuzz(params, htmx):
            attempt(url, _query(params), htmx)  # noqa: B023 (run at once, inside this iteration)

        fuzz()
    assert pages >= 25  # the walk reached the pages (a broken fixture would make this test pass on nothing)
    assert failures == []


def test_known_bad_inputs_answer_4xx_with_a_message(client, basics):
    """The cases issue 10 lists, each answered with a 4xx and a clear word (or ignored, for cursors)."""
    client.force_login(basics["root"])
    bar = basics["bar"].pk
    tester = client.get(f"/mappings/bars/{bar}/tester/?name=a%00b")
    assert tester.status_code == 200
    assert "cannot contain control characters" in tester.content.decode()
    for headers in ({}, {"HX-Request": "true"}):
        search = client.get(f"/mappings/bars/{bar}/?q=%00", headers=headers)
        assert search.status_code == 400
        assert "cannot contain control characters" in search.content.decode()
    for url in (
        "/logs/migration/?after=%C2%B2",
        "/logs/migration/?before=%C2%B2",
        "/rollout/history/?before=%C2%B2",
        "/monitoring/alerts/?before=%C2%B2",
        f"/mappings/bars/{bar}/history/?before=%C2%B2",
    ):
        assert client.get(url).status_code == 200, url  # a cursor that is not ours starts from the newest rows


# --- The Django admin: its lists' own parameters, and malformed ids in its object screens ----------------------
ADMIN_PARAMS = ["q", "o", "p", "e", "all", "_to_field", "_popup", "_changelist_filters"]


def _admin_lists():
    return sorted(f"{model._meta.app_label}/{model._meta.model_name}" for model in admin.site._registry)


@pytest.mark.parametrize("model", _admin_lists())
def test_no_parameter_of_a_django_admin_list_makes_a_server_error(client, basics, model):
    client.force_login(basics["root"])
    url = f"/django-admin/{model}/"
    assert client.get(url).status_code == 200

    @PROFILE
    @given(params=st.dictionaries(st.sampled_from(ADMIN_PARAMS), PARAM_VALUES, min_size=1, max_size=3))
    def check(params):
        query = "&".join(f"{name}={value}" for name, value in params.items())
        response = client.get(f"{url}?{query}")
        assert response.status_code < 500, (url, query, response.status_code)

    check()


MALFORMED_IDS = ["abc", "%C2%B2", "%00", "1", "-1", "9" * 30, str(uuid.uuid4()), "%F0%9F%8D%BA"]


@pytest.mark.parametrize("bad", MALFORMED_IDS)
def test_malformed_ids_in_the_admins_object_screens_answer_4xx(client, basics, bad):
    client.force_login(basics["root"])
    bar, flag = basics["bar"].pk, FeatureFlag.objects.order_by("key").first().pk
    urls = [
        f"/django-admin/adminpanel/bar/{bar}/permissions/user-manage/{bad}/",
        f"/django-admin/adminpanel/bar/{bar}/permissions/group-manage/{bad}/",
        f"/django-admin/adminpanel/bar/{bad}/permissions/",
        f"/django-admin/adminpanel/bar/{bad}/change/",
        f"/django-admin/rollout/featureflag/{flag}/permissions/user-manage/{bad}/",
        f"/django-admin/rollout/featureflag/{flag}/permissions/group-manage/{bad}/",
        f"/django-admin/rollout/featureflag/{bad}/permissions/",
    ]
    for url in urls:
        for method in (client.get, client.post):
            status = method(url).status_code
            assert status < 500, (method.__name__, url, status)
            assert status != 200 or bad in ("1",), (method.__name__, url, status)


# --- The client APIs: every body, every method ----------------------------------------------------------------
BODIES = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=100).map(str.encode),
    JSON_VALUES.map(lambda value: json.dumps(value).encode()),
    st.fixed_dictionaries({"name": st.text(max_size=40) | JSON_VALUES}).map(lambda value: json.dumps(value).encode()),
    st.integers(min_value=1, max_value=20_000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(min_value=1, max_value=20_000).map(lambda depth: b'{"a":' * depth + b"1" + b"}" * depth),
)


def test_no_body_posted_to_the_resolution_api_makes_a_server_error(client, basics):
    url = f"/api/v1/bars/{basics['bar'].pk}/resolve-server"
    auth = {"Authorization": f"Bearer {basics['token']}"}

    @settings(PROFILE, max_examples=max(PROFILE.max_examples * 5, 30))
    @given(body=BODIES, content_type=st.sampled_from(["application/json", "text/plain", "application/octet-stream"]))
    def check(body, content_type):
        response = client.post(url, body, content_type=content_type, headers=auth)
        assert response.status_code < 500, (body[:80], response.status_code)
        assert response["Content-Type"] == "application/json"

    check()


def test_a_nul_byte_or_deep_nesting_in_the_resolution_body_is_a_4xx_json_answer(client, basics):
    url = f"/api/v1/bars/{basics['bar'].pk}/resolve-server"
    auth = {"Authorization": f"Bearer {basics['token']}"}
    nul = client.post(url, json.dumps({"name": "a\x00b"}), content_type="application/json", headers=auth)
    assert nul.status_code == 422
    assert nul.json()["error"] == "invalid_server_name"
    assert "control characters" in nul.json()["message"]
    deep = client.post(url, "[" * 10_000 + "]" * 10_000, content_type="application/json", headers=auth)
    assert deep.status_code == 400
    assert deep.json()["error"] == "invalid_json"


def test_no_bar_parameter_or_header_of_the_flag_api_makes_a_server_error(client, basics):
    auth = f"Bearer {basics['token']}"

    @PROFILE
    @given(
        bar=PARAM_VALUES,
        etag=st.text(max_size=30).filter(lambda text: re.fullmatch(r"[ -~]*", text) is not None),
    )
    def check(bar, etag):
        response = client.get(f"/api/v1/flags?bar={bar}", headers={"Authorization": auth, "If-None-Match": etag})
        assert response.status_code < 500

    check()


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_writing_to_the_flag_api_is_405_json_not_a_csrf_page(method, basics):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)("/api/v1/flags", headers={"Authorization": f"Bearer {basics['token']}"})
    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "GET, HEAD"
    assert "GET" in response.json()["message"]
