"""The dashboard and its actions: who sees what, who may act, bad input, and Redis being down."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import PanelEvent
from monitoring.health import services
from monitoring.models import Alert, HealthRun, PhaseWindow

pytestmark = pytest.mark.django_db

PARTIALS = ["monitoring:dashboard", "monitoring:status", "monitoring:charts", "monitoring:phases", "monitoring:alerts"]
CLOSED_PORT_BROKER = "redis://127.0.0.1:1/0"


@pytest.fixture
def open_alert(make_sales, quick_notifications):
    make_sales(100, 97)
    services.run_health_checks()
    return Alert.objects.get(check_name="server_id_coverage")


def test_support_sees_the_dashboard_read_only(client_for, support_user, open_alert):
    client = client_for(support_user)
    page = client.get(reverse("monitoring:dashboard")).content.decode()
    for section in ('id="monitoring"', 'id="health-status"', 'id="health-charts"', 'id="phase-windows"'):
        assert section in page
    assert 'id="support-overview"' in client.get(reverse("home")).content.decode()
    assert "Run checks now" not in page and ">Acknowledge</button>" not in page and "Start Phase 3" not in page
    assert 'data-check="server_id_coverage" data-status="warning"' in page


def test_product_owner_gets_the_buttons_and_open_alerts_come_first(client_for, product_user, open_alert):
    Alert.objects.create(check_name="rls_violations", severity="critical", state="resolved", resolved_at=timezone.now())
    page = client_for(product_user).get(reverse("monitoring:dashboard")).content.decode()
    assert "Run checks now" in page and ">Acknowledge</button>" in page and "Start Phase 3" in page
    resolved = page.index('data-check="rls_violations"')
    assert page.index(f'id="alert-{open_alert.pk}"') < resolved
    assert "Row-level security refusals reported by the app" in page


def test_a_bar_manager_sees_only_their_own_section(client_for, manager, open_alert):
    client = client_for(manager)
    page = client.get(reverse("home")).content.decode()
    assert 'id="manager-overview"' in page
    assert "health-status" not in page and "server_id_coverage" not in page and "Monitoring" not in page
    for name in PARTIALS:
        assert client.get(reverse(name)).status_code == 403
    assert client.get(reverse("monitoring:run", args=[HealthRun.objects.get().pk])).status_code == 403


@pytest.mark.parametrize("user_fixture", ["support_user", "manager", "plain_user"])
def test_only_product_owners_may_run_acknowledge_or_start_windows(request, client_for, user_fixture, open_alert):
    client = client_for(request.getfixturevalue(user_fixture))
    runs_before, events_before = HealthRun.objects.count(), PanelEvent.objects.count()
    assert client.post(reverse("monitoring:run_now")).status_code == 403
    ack = client.post(reverse("monitoring:acknowledge", args=[open_alert.pk]), {"comment": "mine"})
    assert ack.status_code == 403
    assert client.post(reverse("monitoring:start_phase"), {"kind": "phase3"}).status_code == 403
    open_alert.refresh_from_db()
    assert open_alert.state == "open" and open_alert.acknowledged_by is None
    assert HealthRun.objects.count() == runs_before
    assert not PhaseWindow.objects.exists()
    assert PanelEvent.objects.count() == events_before


def test_product_owner_runs_the_checks_now_through_celery(client_for, product_user, eager_celery):
    response = client_for(product_user).post(reverse("monitoring:run_now"))
    assert response.status_code == 302
    run = HealthRun.objects.get()
    assert (run.trigger, run.triggered_by) == ("manual", product_user)
    assert run.task_id
    assert PanelEvent.objects.get(action="health.run_now").target_id == str(run.pk)


def test_superuser_may_run_the_checks_too(client_for, superuser, eager_celery):
    assert client_for(superuser).post(reverse("monitoring:run_now")).status_code == 302
    assert HealthRun.objects.count() == 1


def test_product_owner_acknowledges_with_a_comment(client_for, product_user, open_alert):
    client = client_for(product_user)
    response = client.post(
        reverse("monitoring:acknowledge", args=[open_alert.pk]), {"comment": "On it"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert "On it" in response.content.decode()
    open_alert.refresh_from_db()
    assert (open_alert.state, open_alert.acknowledged_by) == ("acknowledged", product_user)


def test_an_empty_acknowledgement_is_refused_with_a_message(client_for, product_user, open_alert):
    client = client_for(product_user)
    url = reverse("monitoring:acknowledge", args=[open_alert.pk])
    assert client.post(url, {"comment": " "}, headers={"HX-Request": "true"}).status_code == 400
    response = client.post(url, {"comment": ""}, follow=True)
    assert "a comment is required" in response.content.decode()
    open_alert.refresh_from_db()
    assert open_alert.state == "open"
    missing = client.post(
        reverse("monitoring:acknowledge", args=[999999]), {"comment": "x"}, headers={"HX-Request": "true"}
    )
    assert missing.status_code == 409


def test_product_owner_starts_a_phase_window_and_sees_its_countdown(client_for, product_user):
    client = client_for(product_user)
    response = client.post(reverse("monitoring:start_phase"), {"kind": "phase3"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Phase 3: 15-minute post-deployment monitor" in body
    assert "minutes left" in body
    window = PhaseWindow.objects.get()
    assert window.started_by == product_user
    again = client.post(reverse("monitoring:start_phase"), {"kind": "phase3"}, headers={"HX-Request": "true"})
    assert again.status_code == 409
    assert client.post(reverse("monitoring:start_phase"), {"kind": "nope"}, follow=True).status_code == 200
    assert PhaseWindow.objects.count() == 1


def test_a_finished_window_shows_its_verdict(client_for, support_user, product_user):
    window = services.start_phase_window(kind="phase3", user=product_user)
    services.close_due_phase_windows(now=window.ends_at + timedelta(seconds=1))
    body = client_for(support_user).get(reverse("monitoring:phases")).content.decode()
    assert 'data-verdict="inconclusive"' in body


def test_alert_history_and_run_detail_render_and_bad_input_is_ignored_or_a_404(client_for, support_user, open_alert):
    client = client_for(support_user)
    assert "server_id_coverage" in client.get(reverse("monitoring:alerts")).content.decode()
    for cursor in ("abc", "²", "\x00"):  # not one of ours: the list starts from the newest alert
        for name in ("before", "after"):
            page = client.get(reverse("monitoring:alerts"), {name: cursor})
            assert page.status_code == 200 and "server_id_coverage" in page.content.decode()
    run = HealthRun.objects.get()
    assert client.get(reverse("monitoring:run", args=[run.pk])).status_code == 200
    assert client.get(reverse("monitoring:run", args=[run.pk + 1000])).status_code == 404


def test_charts_render_as_inline_svg_without_a_cdn(client_for, support_user, make_sales):
    make_sales(10, 7)
    body = client_for(support_user).get(reverse("monitoring:charts")).content.decode()
    assert body.count("<svg") >= 3
    assert "70.0 %" in body  # this hour's resolution success rate
    assert "https://" not in body and "http://" not in body


def test_with_redis_down_every_page_renders_and_says_checks_are_stale(client_for, product_user, settings):
    settings.CELERY_BROKER_URL = CLOSED_PORT_BROKER
    run = services.run_health_checks()
    HealthRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(minutes=11))
    client = client_for(product_user)
    page = client.get(reverse("monitoring:dashboard"))
    assert page.status_code == 200
    assert "Checks are stale: the worker or its scheduler is down." in page.content.decode()
    assert client.get(reverse("home")).status_code == 200
    for name in PARTIALS:
        assert client.get(reverse(name)).status_code == 200
    assert client.get(reverse("monitoring:run", args=[run.pk])).status_code == 200

    # "Run now" cannot queue: it runs in the panel instead, and the warning goes away.
    response = client.post(reverse("monitoring:run_now"), follow=True)
    assert "The task broker is unreachable" in response.content.decode()
    assert HealthRun.objects.filter(trigger="manual", triggered_by=product_user).count() == 1
    assert "Checks are stale" not in client.get(reverse("monitoring:dashboard")).content.decode()


def test_a_fresh_run_shows_no_stale_warning_and_no_run_shows_one(client_for, support_user):
    client = client_for(support_user)
    assert "No health run has finished yet." in client.get(reverse("monitoring:dashboard")).content.decode()
    services.run_health_checks()
    assert "Checks are stale" not in client.get(reverse("monitoring:dashboard")).content.decode()
