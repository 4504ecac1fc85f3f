"""Both client APIs honour a token's scope and expiry (issue 10): a token for one bar cannot resolve names or read
flags of another (403, asked before the bar is looked up), an expired token is a 401 that says so, and the flags
ETag belongs to one bar."""

import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from adminpanel.models import ApiClient, AuditLog, MemberRole
from mappings import services
from tests.factories import BarFactory, BarMemberFactory, ServerFactory

pytestmark = pytest.mark.django_db


def token_for(*bars, all_bars=False, expires_at=None, name="pos"):
    client = ApiClient(name=name, all_bars=all_bars, **({"expires_at": expires_at} if expires_at else {}))
    raw = client.issue_token()
    client.save()
    client.bars.set(bars)
    return raw


def resolve(client, bar_id, token, name="Aïcha"):
    return client.post(
        f"/api/v1/bars/{bar_id}/resolve-server",
        json.dumps({"name": name}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {token}"},
    )


def flags(client, bar_id, token, **headers):
    return client.get("/api/v1/flags", {"bar": str(bar_id)}, headers={"Authorization": f"Bearer {token}", **headers})


@pytest.fixture
def two_bars(manager, bar, other_bar):
    for each in (bar, other_bar):
        server = ServerFactory(username=f"aicha_{each.pk.hex[:6]}")
        BarMemberFactory(bar=each, user=server, role=MemberRole.SERVER)
        services.create_mapping(bar=each, server_name="Aïcha", user=server, actor=manager)
    return bar, other_bar


def test_a_token_for_one_bar_resolves_names_of_that_bar_only(client, two_bars):
    bar, other = two_bars
    token = token_for(bar)
    assert resolve(client, bar.pk, token).status_code == 200
    refused = resolve(client, other.pk, token)
    assert refused.status_code == 403
    assert refused.json() == {"error": "bar_not_allowed", "message": "This API token is not allowed for this bar."}
    assert not AuditLog.objects.exists()  # not a resolution: nothing counted


def test_a_token_for_one_bar_reads_flags_of_that_bar_only(client, two_bars):
    bar, other = two_bars
    token = token_for(bar)
    assert flags(client, bar.pk, token).status_code == 200
    refused = flags(client, other.pk, token)
    assert refused.status_code == 403 and refused.json()["error"] == "bar_not_allowed"


def test_a_bar_outside_the_scope_is_403_whether_or_not_it_exists(client, two_bars):
    token = token_for(two_bars[0])
    unknown = uuid.uuid4()
    assert flags(client, unknown, token).status_code == 403
    assert resolve(client, unknown, token).status_code == 403
    fleet = token_for(all_bars=True, name="fleet")
    assert flags(client, unknown, fleet).status_code == 404  # in scope: now it may learn there is no such bar


def test_a_fleet_wide_token_serves_every_bar_even_new_ones(client, two_bars):
    token = token_for(all_bars=True)
    for bar in (*two_bars, BarFactory()):
        assert flags(client, bar.pk, token).status_code == 200


def test_a_token_with_no_bar_serves_none(client, two_bars):
    token = token_for()
    assert flags(client, two_bars[0].pk, token).status_code == 403


def test_an_expired_token_is_401_and_says_it_expired_in_both_apis(client, two_bars):
    bar = two_bars[0]
    token = token_for(bar, expires_at=timezone.now() - timedelta(minutes=1))
    for response in (flags(client, bar.pk, token), resolve(client, bar.pk, token)):
        assert response.status_code == 401
        assert response.json()["error"] == "token_expired"
        assert "expired on" in response.json()["message"]
        assert response["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_the_flags_etag_belongs_to_one_bar(client, two_bars):
    bar, other = two_bars
    token = token_for(all_bars=True)
    first, second = flags(client, bar.pk, token), flags(client, other.pk, token)
    assert first.json()["flags"] == second.json()["flags"]  # the same state…
    assert first["ETag"] != second["ETag"]  # …but not the same answer
    assert flags(client, other.pk, token, **{"If-None-Match": first["ETag"]}).status_code == 200
    assert flags(client, bar.pk, token, **{"If-None-Match": first["ETag"]}).status_code == 304


# --- Issuing tokens in the Django admin ------------------------------------------------------------------------
def test_the_admin_refuses_a_client_without_a_scope_and_issues_one_scoped_to_bars(client, superuser, bar):
    client.force_login(superuser)
    expires = (timezone.now() + timedelta(days=10)).strftime("%Y-%m-%d")
    base = {"name": "pos-bar", "is_active": "on", "expires_at_0": expires, "expires_at_1": "12:00:00"}
    refused = client.post("/django-admin/adminpanel/apiclient/add/", base)
    assert refused.status_code == 200
    assert "Choose the bars this token may serve" in refused.content.decode()
    assert not ApiClient.objects.exists()
    created = client.post("/django-admin/adminpanel/apiclient/add/", {**base, "bars": [str(bar.pk)]}, follow=True)
    shown = [str(m) for m in created.context["messages"] if "copy it now" in str(m)]
    raw = shown[0].rsplit(": ", 1)[1]
    stored = ApiClient.objects.get(name="pos-bar")
    assert list(stored.bars.all()) == [bar] and not stored.all_bars
    assert flags(client, bar.pk, raw).status_code == 200
