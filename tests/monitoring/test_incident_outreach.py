"""Issue 21: "Notify affected customers if needed" and "Update status page": a customer notice drafted from the
incident's impact, recorded on it; a status-page update through STATUS_PAGE_WEBHOOK_URL, queued in the incidents'
outbox and delivered by the clock. Both audited; a plain bar manager is refused."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from adminpanel.models import PanelEvent
from monitoring.incidents import escalation
from monitoring.incidents import services as incidents
from monitoring.models import IncidentNotification


@pytest.fixture
def incident(product_user):
    return incidents.open_incident(actor=product_user, severity="critical", issue="Server names stopped resolving")


@pytest.fixture
def status_page(settings):
    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings.STATUS_PAGE_WEBHOOK_URL = f"http://127.0.0.1:{server.server_address[1]}/status"
    yield received
    server.shutdown()
    server.server_close()


def test_the_page_drafts_a_customer_notice_and_records_it(client_for, support_user, incident):
    client = client_for(support_user)
    page = client.get(reverse("monitoring:incident", args=[incident.pk])).content.decode()
    assert 'id="customer-notice-form"' in page and "Your sales and totals are safe" in page
    assert "update the status page by hand" in page
    client.post(reverse("monitoring:incident_customer_notice", args=[incident.pk]),
                {"text": "Dear customer, server names were not recorded for an hour."})  # fmt: skip
    notice = IncidentNotification.objects.get(incident=incident, kind="customer_notice")
    assert notice.body == "Dear customer, server names were not recorded for an hour."
    assert "Product/Business" in notice.audience
    assert PanelEvent.objects.filter(action="incident.customer_notice", actor=support_user).exists()
    empty = client.post(reverse("monitoring:incident_customer_notice", args=[incident.pk]), {"text": " "}, follow=True)
    assert "The text is required" in empty.content.decode()
    assert IncidentNotification.objects.filter(kind="customer_notice").count() == 1


def test_a_status_page_update_goes_through_the_outbox_to_the_hook(client_for, product_user, incident, status_page):
    client = client_for(product_user)
    client.post(reverse("monitoring:incident_status_page", args=[incident.pk]), {"text": "Investigating: names"})
    sent = IncidentNotification.objects.get(kind="status_page")
    assert sent.notified_at is None and status_page == []  # stored first: the clock delivers
    assert escalation.deliver_incident_notifications() >= 1
    assert [hook["text"] for hook in status_page] == ["Investigating: names"]
    assert status_page[0]["event"] == "status_page" and status_page[0]["incident_id"] == incident.pk


def test_a_bar_manager_may_do_neither(client_for, manager, incident, status_page):
    client = client_for(manager)
    for name in ("monitoring:incident_customer_notice", "monitoring:incident_status_page"):
        assert client.post(reverse(name, args=[incident.pk]), {"text": "x"}).status_code in (403, 404)
    assert not IncidentNotification.objects.filter(kind__in=["customer_notice", "status_page"]).exists()
