"""The polled client APIs answer right after SecurityMiddleware (rollout.api.ClientApiFastPath), skipping the page
layers they do not use, while keeping the protections that apply to them (issue 15)."""

import json
import os

import pytest

from tests.factories import issue_api_token

pytestmark = pytest.mark.django_db

ROUTES = ["/api/v1/flags", "/api/v1/flags/snapshot"]


@pytest.fixture
def auth(db):
    return {"Authorization": f"Bearer {issue_api_token('fast-path')}"}


@pytest.mark.parametrize("route", ROUTES)
def test_an_answer_names_its_process_and_carries_the_api_headers(client, auth, bar, route):
    response = client.get(route, {"bar": str(bar.pk)}, headers=auth)
    assert response.status_code == 200
    assert response["X-Served-By"] == str(os.getpid())
    assert response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware still runs
    # No session, CSRF or login layer touched it: no cookie, no Vary: Cookie.
    assert not response.cookies and "Cookie" not in response.get("Vary", "")


@pytest.mark.parametrize("route", ROUTES)
def test_refusals_pass_the_same_way(client, bar, route):
    response = client.get(route, {"bar": str(bar.pk)})
    assert response.status_code == 401 and response["X-Served-By"] == str(os.getpid())


@pytest.mark.parametrize("route", ROUTES)
def test_a_host_outside_allowed_hosts_is_refused(client, auth, bar, route):
    assert client.get(route, {"bar": str(bar.pk)}, headers=auth, HTTP_HOST="evil.example").status_code == 400


@pytest.mark.parametrize("route", ROUTES)
def test_plain_http_is_redirected_when_https_is_required(settings, client, auth, bar, route):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(route, {"bar": str(bar.pk)}, headers=auth)
    assert response.status_code == 301 and response["Location"].startswith("https://")


def test_other_paths_take_the_whole_stack(client, auth, bar):
    explained = client.get("/api/v1/flags/explain", {"bar": str(bar.pk)}, headers=auth)
    assert explained.status_code == 200 and "X-Served-By" not in explained
    assert client.get("/api/v1/flags/", headers=auth).status_code in (301, 404)  # not the API's path


def test_a_repeated_bar_parameter_reads_as_request_get_does(client, auth, bar):
    query = f"bar=not-a-uuid&bar={bar.pk}"  # Django's QueryDict.get gives the last value
    assert client.get(f"/api/v1/flags?{query}", headers=auth).json()["bar"] == str(bar.pk)


@pytest.mark.parametrize("mode", [None, "simplified", 'odd "mode" \u00e9\n'])
def test_the_body_serialised_once_is_what_json_gives(mode):
    from rollout.flags.selectors import FlagReading

    reading = FlagReading("0f0e-bar", mode, {"ENABLE_SWITCHING_MODE": True, "SHOW_SWITCHING_MODE_UI": False}, "ab12")
    assert reading.body == json.dumps(reading.as_json()).encode()
    odd = FlagReading('bar"\\', mode, {}, "etag")
    assert json.loads(odd.body) == odd.as_json()
