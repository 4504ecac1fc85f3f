"""Audit-log list, filters, export, and the per-minute server_id error chart."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from adminpanel import runbook_sql
from adminpanel.models import AuditLog
from monitoring.audit.selectors import error_chart
from tests.factories import AuditLogFactory

pytestmark = pytest.mark.django_db


def test_filters_by_level_type_bar_text_and_window(support_user, bar, client_for):
    now = timezone.now()
    AuditLogFactory(level="error", error_type="server_id_resolution", error_message="server_id unknown", bar=bar)
    AuditLogFactory(level="warning", error_type="sync", error_message="Sync timeout")
    AuditLogFactory(level="error", error_type="payment", error_message="declined", created_at=now - timedelta(hours=3))
    client = client_for(support_user)
    url = reverse("monitoring:audit_log")

    def messages(**params):
        return {row.error_message for row in client.get(url, params).context["page"].rows}

    assert messages(level="error") == {"server_id unknown", "declined"}
    assert messages(error_type="sync") == {"Sync timeout"}
    assert messages(bar=str(bar.pk)) == {"server_id unknown"}
    assert messages(q="TIMEOUT") == {"Sync timeout"}
    assert messages(window="1h") == {"server_id unknown", "Sync timeout"}


def test_audit_logs_page_newest_first_by_their_own_time(support_user, client_for, settings):
    settings.LOGS_PAGE_SIZE = 4
    now = timezone.now()
    for i in range(10):
        AuditLogFactory(error_message=f"m{i}", created_at=now - timedelta(minutes=(i * 7) % 10))
    client = client_for(support_user)
    seen, params = [], {}
    while True:
        page = client.get(reverse("monitoring:audit_log"), params).context["page"]
        seen += [(row.created_at, row.pk) for row in page.rows]
        if not page.next_cursor:
            break
        params = {"after": page.next_cursor}
    assert seen == sorted(seen, reverse=True) and len(seen) == 10


def test_audit_export_streams_csv(support_user, client_for):
    AuditLogFactory(level="error", error_message="server_id unknown")
    AuditLogFactory(level="info", error_message="fine")
    response = client_for(support_user).get(reverse("monitoring:audit_log_export"), {"level": "error"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "id" and [r[4] for r in rows[1:]] == ["server_id unknown"]


def test_the_error_chart_counts_match_the_runbooks_error_tracking_query(support_user, client_for, bar, other_bar):
    now = timezone.now().replace(second=30)
    for minutes_ago, b in [(1, bar), (1, other_bar), (1, bar), (5, bar), (59, other_bar)]:
        AuditLogFactory(
            error_message="server_id resolution failed", bar=b, created_at=now - timedelta(minutes=minutes_ago)
        )
    AuditLogFactory(error_message="server_id long ago", created_at=now - timedelta(hours=3))
    AuditLogFactory(error_message="unrelated", created_at=now - timedelta(minutes=1))
    chart = error_chart()
    with connection.cursor() as cursor:
        cursor.execute(runbook_sql.DASHBOARD_ERROR_TRACKING)
        by_hand = {m: (c, b) for m, c, b in cursor.fetchall() if m > timezone.now() - timedelta(minutes=60)}
    drawn = {point.at: (point.value, point.extra) for point in chart.points if point.value}
    assert drawn == by_hand
    assert chart.total == 5 and chart.peak == 3 and len(chart.points) == 60
    html = client_for(support_user).get(reverse("monitoring:audit_log_chart")).content.decode()
    assert "<svg" in html and html.count('<rect class="bar"') == 3
    assert "http" not in html.split("<svg", 1)[1].split("</svg>", 1)[0].replace("http://www.w3.org", "")


def test_the_audit_page_loads_no_third_party_script(support_user, client_for):
    html = client_for(support_user).get(reverse("monitoring:audit_log")).content.decode()
    assert "cdn" not in html.lower()
    assert AuditLog.objects.count() == 0
