"""Mail (locmem) and webhook (a local HTTP server) notifications, their retries, and that failures lose nothing."""

import pytest
from django.core import mail

from monitoring.health import alerts, services
from monitoring.models import Alert, AlertEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def mail_on(quick_notifications):
    quick_notifications.ALERT_EMAILS = ["oncall@example.com"]
    return quick_notifications


def test_opening_and_resolving_send_a_mail_each(make_sales, mail_on):
    from tests.factories import set_coverage

    bar = make_sales(100, 94)
    services.run_health_checks()
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[BarTender health] Critical: Sales that carry a server (last 24 h) — opened"
    assert mail.outbox[0].to == ["oncall@example.com"]
    assert "Value: 94 % — critical below 95 %, warning below 98 %" in mail.outbox[0].body
    assert "Sample: of 100 sales in the last 24 h" in mail.outbox[0].body
    assert "/runbook/#health-check-queries" in mail.outbox[0].body
    set_coverage(bar, 100)
    services.run_health_checks()
    assert [m.subject for m in mail.outbox][-1] == (
        "[BarTender health] Critical: Sales that carry a server (last 24 h) — resolved"
    )
    assert not AlertEvent.objects.filter(notify=True, notified_at=None).exists()


def test_a_webhook_answering_500_is_retried_until_it_takes_the_json(make_sales, quick_notifications, webhook_server):
    server = webhook_server(statuses=[500, 503])
    quick_notifications.ALERT_WEBHOOK_URL = server.url
    make_sales(100, 97)
    services.run_health_checks()
    assert len(server.received) == 3
    assert server.received[-1]["check"] == "server_id_coverage"
    assert (server.received[-1]["event"], server.received[-1]["severity"]) == ("opened", "warning")
    event = AlertEvent.objects.get()
    assert event.notified_at is not None and event.delivered_to == ["webhook"]


def test_a_timed_out_webhook_keeps_the_alert_and_the_event_pending_until_it_works(make_sales, mail_on, webhook_server):
    slow = webhook_server(delay=3)
    mail_on.ALERT_WEBHOOK_URL = slow.url
    mail_on.ALERT_WEBHOOK_TIMEOUT = 0.2
    mail_on.ALERT_NOTIFY_ATTEMPTS = 2
    make_sales(100, 90)
    run = services.run_health_checks()
    assert run is not None
    assert Alert.objects.get(check_name="server_id_coverage").severity == "critical"
    event = AlertEvent.objects.get()
    assert event.notified_at is None
    assert event.attempts == 1 and event.delivered_to == ["mail"]
    assert "webhook" in event.last_error and "timed out" in event.last_error
    assert len(slow.received) == 2

    working = webhook_server()
    mail_on.ALERT_WEBHOOK_URL = working.url
    assert alerts.deliver_pending_notifications() == 1
    event.refresh_from_db()
    assert event.notified_at is not None and event.delivered_to == ["mail", "webhook"]
    assert len(mail.outbox) == 1  # the mail that went through is not sent twice
    assert working.received[0]["alert_id"] == event.alert_id


def test_an_unreachable_mail_server_is_retried_then_left_pending(make_sales, mail_on, monkeypatch):
    calls = []

    def refuse(*args, **kwargs):
        calls.append(1)
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("monitoring.notifications.send_mail", refuse)
    make_sales(100, 97)
    services.run_health_checks()
    assert len(calls) == 3
    event = AlertEvent.objects.get()
    assert event.notified_at is None and "smtp down" in event.last_error
    assert Alert.objects.filter(check_name="server_id_coverage", state="open").exists()


def test_events_past_the_attempt_limit_are_given_up(make_sales, mail_on, monkeypatch):
    mail_on.ALERT_NOTIFY_MAX_ATTEMPTS = 1
    monkeypatch.setattr("monitoring.notifications.send_mail", lambda *a, **k: 1 / 0)
    make_sales(100, 97)
    services.run_health_checks()
    assert alerts.deliver_pending_notifications() == 0
    assert AlertEvent.objects.get().attempts == 1


def test_a_webhook_url_that_is_not_http_is_an_error_not_a_crash(make_sales, quick_notifications):
    quick_notifications.ALERT_WEBHOOK_URL = "file:///etc/passwd"
    make_sales(100, 97)
    services.run_health_checks()
    assert "must be an http(s) URL" in AlertEvent.objects.get().last_error
