"""Migration-log list, filters, keyset pages, CSV export and the runbook's root-cause summaries."""

import csv
import io
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from adminpanel import runbook_sql
from adminpanel.models import MigrationServerIdLog
from tests.factories import BarFactory, ServerFactory

pytestmark = pytest.mark.django_db

REASONS = ["unmapped_name", "no_server_name", "inactive_member", None]


def make_logs(bar, count: int, *, start: int = 1, **overrides) -> list[MigrationServerIdLog]:
    rows = [
        MigrationServerIdLog(
            sale_id=start + i,
            bar=bar,
            server_name=f"Name {i % 7}",
            fallback_used=REASONS[i % 4] is not None,
            fallback_reason=REASONS[i % 4],
            **overrides,
        )
        for i in range(count)
    ]
    return MigrationServerIdLog.objects.bulk_create(rows)


def rows_in(response) -> int:
    return response.content.decode().count("<tr>\n      <td>")


def test_every_reader_role_sees_the_list(readers, bar, client_for):
    make_logs(bar, 3)
    for user in readers:
        response = client_for(user).get(reverse("backfill:migration_log"))
        assert response.status_code == 200
        assert "Name 0" in response.content.decode()


def test_bar_managers_and_plain_users_get_403_on_every_log_page(bar_manager_only, plain_user, client_for):
    urls = [
        reverse("backfill:migration_log"),
        reverse("backfill:migration_log_summary"),
        reverse("backfill:migration_log_export"),
        reverse("monitoring:audit_log"),
        reverse("monitoring:audit_log_chart"),
        reverse("monitoring:audit_log_export"),
        reverse("backfill:validation"),
        reverse("backfill:backfill"),
    ]
    for user in (bar_manager_only, plain_user):
        client = client_for(user)
        for url in urls:
            assert client.get(url).status_code == 403, url


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("backfill:migration_log"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_the_nav_shows_log_links_to_support_and_never_to_bar_managers(support_user, bar_manager_only, client_for):
    assert reverse("backfill:migration_log") in client_for(support_user).get(reverse("home")).content.decode()
    assert reverse("backfill:migration_log") not in client_for(bar_manager_only).get(reverse("home")).content.decode()


def test_filters_by_reason_bar_fallback_and_server_name(support_user, bar, other_bar, client_for):
    make_logs(bar, 8)
    make_logs(other_bar, 4, start=100)
    MigrationServerIdLog.objects.create(sale_id=500, bar=bar, fallback_used=True, fallback_reason="failed: boom")
    client = client_for(support_user)
    url = reverse("backfill:migration_log")

    def ids(**params):
        page = client.get(url, params).context["page"]
        return {row.sale_id for row in page.rows}

    assert ids(reason="unmapped_name") == {1, 5, 100}
    assert ids(reason="failed") == {500}
    assert ids(bar=str(other_bar.pk)) == {100, 101, 102, 103}
    assert ids(bar=str(other_bar.pk), fallback_used="false") == {103}
    assert ids(server_name="name 6") == {7}
    assert ids(source="consignment") == set()


def test_filters_by_date_range(support_user, bar, client_for):
    old = make_logs(bar, 2)
    MigrationServerIdLog.objects.filter(pk__in=[r.pk for r in old]).update(
        created_at=timezone.now() - timedelta(days=10)
    )
    make_logs(bar, 3, start=10)
    today = timezone.localdate().isoformat()
    page = client_for(support_user).get(reverse("backfill:migration_log"), {"created_after": today}).context["page"]
    assert {row.sale_id for row in page.rows} == {10, 11, 12}


def test_keyset_pages_walk_the_whole_filtered_set_without_offset_or_count(support_user, bar, client_for, settings):
    settings.LOGS_PAGE_SIZE = 10
    make_logs(bar, 25)
    client = client_for(support_user)
    url = reverse("backfill:migration_log")
    seen, params = [], {}
    with CaptureQueriesContext(connection) as queries:
        while True:
            page = client.get(url, params).context["page"]
            seen += [row.sale_id for row in page.rows]
            if not page.next_cursor:
                break
            params = {"after": page.next_cursor}
    assert seen == list(range(25, 0, -1))
    sqls = [q["sql"].upper() for q in queries]
    assert not any("OFFSET" in sql for sql in sqls)
    assert not any("COUNT(" in sql and "MIGRATION_SERVER_ID_LOG" in sql for sql in sqls)
    # and back to newer rows
    last = client.get(url, params).context["page"]
    newer = client.get(url, {"before": last.prev_cursor}).context["page"]
    assert [row.sale_id for row in newer.rows] == list(range(15, 5, -1))


def test_the_list_costs_the_same_queries_for_10_or_300_rows(
    support_user, bar, client_for, django_assert_max_num_queries
):
    user = ServerFactory(username="resolved")
    make_logs(bar, 10, resolved_server_id=user.pk)
    client = client_for(support_user)
    url = reverse("backfill:migration_log")
    with CaptureQueriesContext(connection) as small:
        client.get(url)
    others = [ServerFactory(username=f"resolved{i}") for i in range(5)]
    for i, other in enumerate(others):
        make_logs(bar, 58, start=1000 + 100 * i, resolved_server_id=other.pk)
    with django_assert_max_num_queries(len(small)):
        client.get(url)


def test_the_page_shows_a_planner_estimate_not_an_exact_count(support_user, bar, client_for):
    make_logs(bar, 3)
    html = client_for(support_user).get(reverse("backfill:migration_log")).content.decode()
    assert "planner estimate" in html


def test_htmx_page_requests_get_only_the_rows_partial(support_user, bar, client_for):
    make_logs(bar, 3)
    response = client_for(support_user).get(
        reverse("backfill:migration_log"), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="log-rows"
    )
    html = response.content.decode()
    assert "<table>" in html and "<html" not in html


def test_csv_export_streams_the_filtered_set(support_user, bar, client_for, settings):
    settings.LOGS_EXPORT_CHUNK_ROWS = 3  # several keyset chunks
    make_logs(bar, 20)
    response = client_for(support_user).get(reverse("backfill:migration_log_export"), {"reason": "unmapped_name"})
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:4] == ["id", "created_at", "source", "source_id"]
    assert sorted(int(r[3]) for r in rows[1:]) == [1, 5, 9, 13, 17]
    assert {r[9] for r in rows[1:]} == {"unmapped_name"}


def test_csv_export_neutralises_spreadsheet_formulas(support_user, bar, client_for):
    MigrationServerIdLog.objects.create(
        sale_id=1, bar=bar, server_name='=HYPERLINK("http://x")', fallback_used=True, fallback_reason="unmapped_name"
    )
    response = client_for(support_user).get(reverse("backfill:migration_log_export"))
    body = b"".join(response.streaming_content).decode()
    assert "'=HYPERLINK" in body


def test_names_are_escaped_in_the_list(support_user, bar, client_for):
    MigrationServerIdLog.objects.create(sale_id=1, bar=bar, server_name="<script>alert(1)</script>")
    html = client_for(support_user).get(reverse("backfill:migration_log")).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html


def test_summaries_are_the_runbooks_root_cause_queries(support_user, bar, client_for):
    other = BarFactory(name="Bar Two")
    make_logs(bar, 8)
    make_logs(other, 5, start=100)
    response = client_for(support_user).get(reverse("backfill:migration_log_summary"), HTTP_HX_REQUEST="true")
    summary = response.context["summary"]
    with connection.cursor() as cursor:
        cursor.execute(runbook_sql.RCA_FALLBACKS_BY_REASON)
        by_hand = {reason: (count, len(bars)) for reason, count, bars in cursor.fetchall()}
        cursor.execute(runbook_sql.STEP6_BACKFILL_RESULTS)
        results = dict(cursor.fetchall())
    assert {s.reason: (s.count, s.affected_bar_count) for s in summary.by_reason} == by_hand
    assert dict(summary.results) == results
    assert [b.name for b, _, _ in summary.by_bar] == ["Maquis Baobab", "Bar Two"]
    assert len(summary.recent) == 10 and all(row["fallback_used"] for row in summary.recent)
    html = response.content.decode()
    assert "ARRAY_AGG(DISTINCT bar_id)" in html  # the SQL is shown
    assert "<html" not in html
