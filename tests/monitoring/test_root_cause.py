"""The root-cause page: the runbook's three RCA queries over an incident's window (or the hour before a rollback,
or the last hour), each with its figure, the rows behind it by key pages, and CSV."""

import csv
import io
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import AuditLog, MigrationServerIdLog, OperatingMode, Sale
from monitoring.incidents import root_cause
from monitoring.incidents import services as incidents
from tests.factories import AuditLogFactory, BarFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def scene(product_user, chain):
    """An incident that began 20 minutes ago, with rows inside its window, in the hour before it, and older."""
    now = timezone.now()
    began = now - timedelta(minutes=20)
    switched = BarFactory(name="Maquis Soleil", settings={"operatingMode": OperatingMode.SIMPLIFIED})
    full = BarFactory(name="Le Plateau", settings={"operatingMode": OperatingMode.FULL})
    for minutes, message, error_type in [
        (5, "server_id could not be resolved", "server_id_resolution"),
        (6, "server_id could not be resolved", "server_id_resolution"),
        (50, "bad server_id on insert", "rls_violation"),  # 30 min before the incident: in the look-back
        (200, "server_id could not be resolved", "server_id_resolution"),  # too old
        (3, "timeout talking to the printer", "printer"),  # does not mention server_id
    ]:
        AuditLogFactory(bar=switched, created_at=now - timedelta(minutes=minutes), error_message=message,
                        error_type=error_type)  # fmt: skip
    Sale.objects.bulk_create(Sale(bar=switched, amount=1, created_at=now - timedelta(minutes=m)) for m in (1, 2, 3))
    Sale.objects.create(bar=full, amount=1, created_at=now - timedelta(minutes=2))  # not simplified: not orphaned
    Sale.objects.create(bar=switched, amount=1, created_at=now - timedelta(minutes=300))  # too old
    MigrationServerIdLog.objects.create(sale_id=1, bar=switched, fallback_used=True, fallback_reason="unmapped name")
    MigrationServerIdLog.objects.create(sale_id=2, bar=switched, fallback_used=True, fallback_reason="unmapped name")
    MigrationServerIdLog.objects.create(sale_id=3, bar=full, fallback_used=True, fallback_reason="inactive member")
    MigrationServerIdLog.objects.create(sale_id=4, bar=full, fallback_used=False)
    incident = incidents.open_incident(actor=product_user, severity="critical", issue="Orphans", started_at=began)
    return incident


def figures(sections):
    return {section.kind: section.figure for section in sections}


def test_each_query_counts_the_incidents_window_from_an_hour_before_it_began(scene):
    window = root_cause.window_for_incident(scene)
    assert window.start == scene.started_at - timedelta(hours=1)
    sections = root_cause.root_cause(window)
    assert figures(sections) == {"errors": 3, "fallbacks": 3, "orphans": 3}
    errors = sections[0]
    assert errors.rows[0][:2] == ["server_id_resolution", 2] and errors.rows[1][:2] == ["rls_violation", 1]
    assert sections[1].rows[0][:3] == ["unmapped name", 2, 1]
    assert sections[2].rows == [["Maquis Soleil", 3]]
    assert "LIKE '%server_id%'" in errors.runbook_sql and "NOW() - INTERVAL '1 hour'" in errors.runbook_sql


def test_the_rows_behind_each_figure_are_as_many_as_the_figure(scene):
    window = root_cause.window_for_incident(scene)
    for section in root_cause.root_cause(window):
        source = root_cause.ROW_SOURCES[section.kind]
        assert source.queryset(window).count() == section.figure, section.kind


def test_the_last_hour_is_the_runbooks_window(scene):
    sections = root_cause.root_cause(root_cause.window_until())
    assert figures(sections) == {"errors": 3, "fallbacks": 3, "orphans": 3}
    earlier = root_cause.window_until(timezone.now() - timedelta(minutes=150))
    assert figures(root_cause.root_cause(earlier))["errors"] == 1  # only the 200-minute-old log


def test_the_page_shows_each_figure_with_its_rows_and_csv_links(client_for, support_user, scene):
    html = client_for(support_user).get(reverse("monitoring:incident_root_cause", args=[scene.pk])).content.decode()
    for kind, figure in (("errors", 3), ("fallbacks", 3), ("orphans", 3)):
        section = html.split(f'id="rca-{kind}"', 1)[1]
        assert f'<strong class="value">{figure}</strong>' in section.split("</section>", 1)[0]
        assert f"/incidents/{scene.pk}/root-cause/{kind}/" in html
        assert f"/incidents/{scene.pk}/root-cause/{kind}.csv" in html
    assert "from an hour before the incident began until now" in html


def test_rows_are_key_paged_newest_first_without_repeats(client_for, support_user, scene, settings):
    settings.INCIDENT_PAGE_SIZE = 2
    client = client_for(support_user)
    url = reverse("monitoring:incident_root_cause_rows", args=[scene.pk, "errors"])
    first = client.get(url)
    page = first.context["page"]
    assert len(page.rows) == 2 and page.next_cursor and page.is_first
    second = client.get(url, {"after": page.next_cursor}).context["page"]
    assert len(second.rows) == 1 and second.next_cursor is None
    seen = [row.pk for row in page.rows + second.rows]
    assert len(set(seen)) == 3
    assert [row.created_at for row in page.rows + second.rows] == sorted(
        (row.created_at for row in page.rows + second.rows), reverse=True
    )
    # A cursor that is not ours starts again from the newest rows instead of failing.
    assert client.get(url, {"after": "²³\x00"}).status_code == 200


def test_the_htmx_pager_gets_only_the_rows(client_for, support_user, scene):
    url = reverse("monitoring:incident_root_cause_rows", args=[scene.pk, "orphans"])
    response = client_for(support_user).get(url, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="log-rows")
    html = response.content.decode()
    assert "<html" not in html and html.count("Maquis Soleil") == 3


def test_the_csv_has_every_row_with_json_payloads_and_defused_cells(client_for, support_user, scene):
    AuditLog.objects.filter(error_type="rls_violation").update(payload={"user": "=cmd()"}, error_message="=server_id")
    response = client_for(support_user).get(reverse("monitoring:incident_root_cause_csv", args=[scene.pk, "errors"]))
    assert response["Content-Disposition"].startswith(f'attachment; filename="incident-{scene.pk}-errors-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == root_cause.ROW_SOURCES["errors"].header and len(rows) == 4
    violation = next(row for row in rows if row[3] == "rls_violation")
    assert violation[4] == "'=server_id" and violation[8] == '{"user": "=cmd()"}'


def test_a_window_before_a_rollback_comes_from_until(client_for, support_user, scene):
    until = (timezone.now() - timedelta(minutes=150)).isoformat()
    response = client_for(support_user).get(reverse("monitoring:root_cause"), {"until": until})
    assert response.status_code == 200 and "the hour before the rollback" in response.content.decode()
    assert {s.kind: s.figure for s in response.context["sections"]}["errors"] == 1
    csv_response = client_for(support_user).get(reverse("monitoring:root_cause_csv", args=["errors"]), {"until": until})
    assert len(b"".join(csv_response.streaming_content).decode().strip().splitlines()) == 2


@pytest.mark.parametrize("until", ["yesterday", "2026-13-45T99:00", "\x00", "２０２６-01-01T10:00"])
def test_a_bad_until_is_a_400_with_a_message(client_for, support_user, chain, until):
    response = client_for(support_user).get(reverse("monitoring:root_cause"), {"until": until})
    assert response.status_code == 400 and "`until` must be a date and time" in response.content.decode()


def test_an_unknown_query_is_a_404(client_for, support_user, scene):
    client = client_for(support_user)
    assert client.get(reverse("monitoring:root_cause_rows", args=["everything"])).status_code == 404
    assert client.get(reverse("monitoring:incident_root_cause_csv", args=[scene.pk, "x"])).status_code == 404
