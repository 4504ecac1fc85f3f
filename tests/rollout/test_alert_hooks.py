"""The Alertmanager webhook (issue 23): a firing payload opens an incident, a labelled one pulls the kill switch
when the trigger may; revoked or unknown secrets, bad JSON and calls over the rate limit are refused (JSON 4xx)
and change nothing; every call is audited."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from adminpanel.models import PanelEvent
from monitoring.models import Incident
from rollout.killswitch import alert_hooks
from rollout.models import AlertTrigger, EventKind, FeatureFlag, RolloutEvent
from tests.factories import BarFactory, advance


def make_trigger(name="am-prod", **fields):
    secret, token_hash = alert_hooks.new_secret()
    return AlertTrigger.objects.create(name=name, token_hash=token_hash, **fields), secret


def payload(*, status="firing", labels=None, group_key='{}:{alertname="HighErrorRate"}'):
    labels = {"alertname": "HighErrorRate", "severity": "critical", **(labels or {})}
    return {
        "version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": status, "receiver": "bartender",
        "groupLabels": {"alertname": "HighErrorRate"}, "commonLabels": labels, "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": [{
            "status": status, "labels": labels,
            "annotations": {"summary": "Resolution errors above 1 % for 5 minutes"},
            "startsAt": "2026-12-05T03:00:00.000Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph", "fingerprint": "c0ffee",
        }],
    }  # fmt: skip


def post(client, secret, body):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(f"/hooks/alertmanager/{secret}", data=data, content_type="application/json")


def killed() -> bool:
    return all(FeatureFlag.objects.values_list("kill_switch_engaged", flat=True))


@pytest.mark.django_db
def test_a_firing_payload_opens_one_incident_and_its_repeats_find_the_same(client):
    trigger, secret = make_trigger()
    response = post(client, secret, payload())
    assert response.status_code == 200, response.content
    incident = Incident.objects.get()
    assert (incident.source, incident.severity) == ("alertmanager", "critical")
    assert "HighErrorRate" in incident.issue and "Resolution errors above 1 %" in incident.issue
    assert response.json()["incident"] == incident.pk and response.json()["kill_switch_pulled"] is False
    assert post(client, secret, payload()).json()["incident"] == incident.pk  # Alertmanager's repeat_interval
    assert Incident.objects.count() == 1 and not killed()
    accepted = PanelEvent.objects.filter(action="alert_hook.accepted", target_id=str(trigger.pk))
    assert accepted.count() == 2 and accepted.first().actor_name == "alertmanager:am-prod"
    opened = PanelEvent.objects.get(action="incident.open")
    assert opened.actor_name == "alertmanager:am-prod"


@pytest.mark.django_db
def test_a_resolved_payload_is_accepted_and_changes_nothing(client):
    _, secret = make_trigger()
    assert post(client, secret, payload(status="resolved")).status_code == 200
    assert not Incident.objects.exists()


@pytest.mark.django_db
def test_a_labelled_alert_pulls_the_kill_switch_audited_with_the_trigger_as_actor(client, owner, fresh_run):
    BarFactory.create_batch(2, is_internal=True)
    advance(owner)
    _, secret = make_trigger(may_pull_kill_switch=True)
    response = post(client, secret, payload(labels={"bartender_action": "kill_switch"}))
    assert response.status_code == 200 and response.json()["kill_switch_pulled"] is True
    assert killed()
    event = RolloutEvent.objects.get(kind=EventKind.KILL_SWITCH)
    assert event.actor_id is None and event.actor_name == "alertmanager:am-prod"
    assert "HighErrorRate" in event.reason
    assert PanelEvent.objects.filter(action="rollout.kill_switch", actor_name="alertmanager:am-prod").exists()
    incident = Incident.objects.get()  # the kill switch's incident is the incident: not two
    assert incident.source == "kill_switch" and response.json()["incident"] == incident.pk


@pytest.mark.django_db
def test_a_trigger_not_allowed_to_pull_the_kill_switch_only_opens_the_incident(client):
    _, secret = make_trigger(may_pull_kill_switch=False)
    response = post(client, secret, payload(labels={"bartender_action": "kill_switch"}))
    assert response.status_code == 200 and response.json()["kill_switch_refused"]
    assert not killed() and Incident.objects.get().source == "alertmanager"


@pytest.mark.django_db
def test_a_revoked_secret_is_refused_and_changes_nothing(client, superuser):
    trigger, secret = make_trigger(may_pull_kill_switch=True)
    assert alert_hooks.revoke(actor=superuser, trigger=trigger)
    response = post(client, secret, payload(labels={"bartender_action": "kill_switch"}))
    assert response.status_code == 403 and response.json()["error"] == "trigger_revoked"
    assert not Incident.objects.exists() and not killed()
    assert PanelEvent.objects.filter(action="alert_hook.revoke", actor=superuser).exists()
    assert PanelEvent.objects.filter(action="alert_hook.refused", target_id=str(trigger.pk)).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ("{not json", 400, "bad_payload"),
        ("[1, 2]", 400, "bad_payload"),
        (json.dumps({**payload(), "version": "3"}), 400, "bad_payload"),
        (json.dumps({**payload(), "alerts": [{"labels": "x"}]}), 400, "bad_payload"),
        (json.dumps({**payload(), "alerts": [{"labels": {}, "startsAt": "yesterday"}]}), 400, "bad_payload"),
        (b"\xff\xfe", 400, "bad_payload"),
    ],
)
def test_bad_payloads_are_json_400s_that_change_nothing(client, body, status, code):
    _, secret = make_trigger()
    response = post(client, secret, body)
    assert (response.status_code, response.json()["error"]) == (status, code)
    assert not Incident.objects.exists()
    assert PanelEvent.objects.filter(action="alert_hook.refused").count() == 1


@pytest.mark.django_db
def test_an_unknown_secret_and_a_get_are_refused(client):
    make_trigger()
    response = post(client, "amt_not-a-secret", payload())
    assert response.status_code == 404 and response.json()["error"] == "unknown_trigger"
    assert client.get("/hooks/alertmanager/whatever").status_code == 405
    assert not Incident.objects.exists()
    assert PanelEvent.objects.filter(action="alert_hook.refused", target_id="alertmanager_hook").count() == 1


@pytest.mark.django_db
def test_the_rate_limit_holds_per_trigger_and_per_minute(settings):
    settings.ALERT_HOOK_CALLS_PER_MINUTE = 2
    trigger, secret = make_trigger()
    _, other_secret = make_trigger(name="am-staging")
    body = json.dumps(payload()).encode()
    now = timezone.now()

    def call(at, which=secret):
        return alert_hooks.receive(secret=which, read_body=lambda: body, now=at).status

    assert [call(now), call(now + timedelta(seconds=10)), call(now + timedelta(seconds=20))] == [200, 200, 429]
    assert call(now + timedelta(seconds=30), other_secret) == 200  # each trigger has its own budget
    assert call(now + timedelta(seconds=61)) == 200  # a new minute
    refused = PanelEvent.objects.filter(action="alert_hook.refused", target_id=str(trigger.pk))
    assert [e.after["error"] for e in refused] == ["rate_limited"]


@pytest.mark.django_db
def test_an_admin_adds_a_trigger_sees_its_secret_once_and_it_works(client_for, superuser, client):
    admin = client_for(superuser)
    response = admin.post("/django-admin/rollout/alerttrigger/add/", {"name": "am-prod"}, follow=True)
    assert response.status_code == 200
    secret = re.search(r"/hooks/alertmanager/(amt_[\w-]+)", response.content.decode()).group(1)
    trigger = AlertTrigger.objects.get(name="am-prod")
    assert trigger.token_hash == alert_hooks.hash_secret(secret) and secret not in json.dumps(
        list(PanelEvent.objects.values("before", "after"))
    )
    assert PanelEvent.objects.filter(action="admin.add.rollout.alerttrigger", actor=superuser).exists()
    assert secret not in admin.get(f"/django-admin/rollout/alerttrigger/{trigger.pk}/change/").content.decode()
    assert post(client, secret, payload()).status_code == 200
    admin.post("/django-admin/rollout/alerttrigger/", {"action": "revoke_triggers", "_selected_action": [trigger.pk]})
    assert post(client, secret, payload()).status_code == 403
    assert Incident.objects.count() == 1
