"""Issue 14 on the audit-log page: names not UUIDs, JSON in the export, the chart, its error patterns and the
list counting the same rows over the same stated window."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from monitoring.audit.selectors import error_chart, server_id_error_patterns
from tests.factories import AuditLogFactory, BarFactory, ServerFactory

pytestmark = pytest.mark.django_db


def test_the_audit_log_filters_by_bar_name(support_user, bar, other_bar, client_for):
    AuditLogFactory(error_message="here", bar=bar)
    AuditLogFactory(error_message="there", bar=other_bar)
    response = client_for(support_user).get(reverse("monitoring:audit_log"), {"bar": "Chez Fatou"})
    assert {row.error_message for row in response.context["page"].rows} == {"there"}
    assert "Enter a valid UUID" not in response.content.decode()


def test_an_ambiguous_bar_name_filters_nothing_and_lists_candidates(support_user, client_for):
    one, two = BarFactory(name="Test Bar 1"), BarFactory(name="Test Bar 1")
    AuditLogFactory(bar=one)
    AuditLogFactory(bar=two)
    response = client_for(support_user).get(reverse("monitoring:audit_log"), {"bar": "test bar 1"})
    html = response.content.decode()
    assert response.context["page"].rows == []
    assert "2 bars are called" in html and str(one.pk)[:8] in html and str(two.pk)[:8] in html


def test_the_export_writes_payload_as_json_and_names_the_user(support_user, client_for):
    user = ServerFactory(username="awa", display_name="Awa Diallo")
    AuditLogFactory(payload={"server_name": "Zoé", "attempts": [1, 2], "ok": None}, user=user)
    response = client_for(support_user).get(reverse("monitoring:audit_log_export"))
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    cell = rows[0]["payload"]
    assert json.loads(cell) == {"server_name": "Zoé", "attempts": [1, 2], "ok": None}
    assert "'" not in cell and "None" not in cell and "Zoé" in cell
    assert rows[0]["user"] == "Awa Diallo (awa)"


def test_the_export_refuses_a_bar_it_cannot_resolve(support_user, client_for):
    response = client_for(support_user).get(reverse("monitoring:audit_log_export"), {"bar": "Nowhere"})
    assert response.status_code == 400 and "Nowhere" in response.content.decode()


def test_chart_patterns_and_list_count_the_same_rows_in_the_same_window(support_user, client_for):
    now = timezone.now()
    # Two server_id errors of one type in the window; rows that must NOT count: a warning mentioning server_id,
    # an error of the same type not about server_id, and an error from two hours ago.
    AuditLogFactory(level="error", error_type="resolution", error_message="server_id unknown", created_at=now)
    AuditLogFactory(
        level="error", error_type="resolution", error_message="serverId missing", created_at=now - timedelta(minutes=5)
    )
    AuditLogFactory(level="warning", error_type="resolution", error_message="server_id slow", created_at=now)
    AuditLogFactory(level="error", error_type="resolution", error_message="timeout", created_at=now)
    AuditLogFactory(
        level="error", error_type="resolution", error_message="server_id", created_at=now - timedelta(hours=2)
    )
    chart = error_chart()
    patterns, _ = server_id_error_patterns(start=chart.start, end=chart.end)
    assert chart.total == 2 and patterns[0][:2] == ("resolution", 2)

    client = client_for(support_user)
    html = client.get(reverse("monitoring:audit_log_chart")).content.decode()
    assert "Window:" in html and "<time datetime=" in html
    link = re.search(r'href="(/logs/audit/\?error_type=resolution[^"]+)">2</a>', html).group(1).replace("&amp;", "&")
    listed = client.get(link).context["page"].rows
    assert {row.error_message for row in listed} == {"server_id unknown", "serverId missing"}


def test_times_in_the_list_are_human(support_user, client_for):
    AuditLogFactory()
    html = client_for(support_user).get(reverse("monitoring:audit_log")).content.decode()
    assert " UTC</time>" in html and not re.search(r"<td>\d{4}-\d{2}-\d{2} ", html)


def test_bar_managers_cannot_read_the_audit_log(manager, client_for):
    assert client_for(manager).get(reverse("monitoring:audit_log")).status_code == 403
    assert client_for(manager).get(reverse("monitoring:audit_log_export")).status_code == 403
