from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from monitoring.models import CheckResult, CheckStatus, HealthRun
from rollout import errors
from rollout.models import DatabaseBackup, DeploymentRecord, EventKind, RolloutEvent, RunbookRun, RunbookStep
from rollout.records import facts, services
from rollout.runbook import runs
from tests.factories import AuditLogFactory, BarFactory, SaleFactory, ServerFactory, advance, make_product, meet_phase1

pytestmark = pytest.mark.runs_phase1


@pytest.fixture
def reviewer(db):
    return make_product(username="reviewer")


@pytest.fixture
def backup(db):
    return DatabaseBackup.objects.create(
        path="/backups/bartender_pre_mode_switching_20251224.dump", sha256="ab" * 32, size_bytes=1234, verified=True
    )


@pytest.fixture
def record(owner, reviewer, backup):
    return services.create_record(
        actor=owner,
        deployer=owner,
        reviewer=reviewer,
        started_at=timezone.now() - timedelta(hours=1),
    )


def form_data(deployer, reviewer, **extra):
    return {
        "date": "2025-12-24",
        "deployer": deployer.pk,
        "reviewer": reviewer.pk,
        "started_at": "2025-12-24T14:00",
        "status": "in_progress",
        **extra,
    }


def test_the_same_user_as_deployer_and_reviewer_is_refused_everywhere(client_for, owner):
    response = client_for(owner).post(reverse("rollout:record_new"), form_data(owner, owner))
    assert response.status_code == 200 and "two different people" in response.content.decode()
    with pytest.raises(services.ValidationError):
        services.create_record(actor=owner, deployer=owner, reviewer=owner)
    with pytest.raises(IntegrityError), transaction.atomic():
        DeploymentRecord.objects.create(deployer=owner, reviewer=owner)
    assert not DeploymentRecord.objects.exists()


def test_a_product_owner_creates_a_record_through_the_form(client_for, owner, reviewer):
    response = client_for(owner).post(reverse("rollout:record_new"), form_data(owner, reviewer))
    assert response.status_code == 302
    record = DeploymentRecord.objects.get()
    assert record.deployer == owner and record.reviewer == reviewer and record.code_builds is None
    assert RolloutEvent.objects.filter(kind=EventKind.RECORD, record=record).exists()


def test_support_reads_records_but_cannot_write_them(client_for, support_user, record, owner, reviewer):
    client = client_for(support_user)
    assert client.get(reverse("rollout:record", args=[record.pk])).status_code == 200
    assert client.post(reverse("rollout:record_new"), form_data(owner, reviewer)).status_code == 403
    assert client.post(reverse("rollout:record_sign", args=[record.pk])).status_code == 403
    assert DeploymentRecord.objects.count() == 1


def test_sign_off_needs_a_status_then_both_people_and_freezes_the_record(client_for, record, owner, reviewer, db):
    with pytest.raises(errors.InvalidRequest):
        services.sign_record(actor=owner, record_id=record.pk)
    services.update_record(actor=owner, record_id=record.pk, status="successful")
    outsider = make_product(username="outsider")
    with pytest.raises(errors.NotAllowed):
        services.sign_record(actor=outsider, record_id=record.pk)
    services.sign_record(actor=owner, record_id=record.pk)
    with pytest.raises(errors.InvalidRequest):
        services.sign_record(actor=owner, record_id=record.pk)
    assert client_for(reviewer).post(reverse("rollout:record_sign", args=[record.pk])).status_code == 302
    record.refresh_from_db()
    assert record.is_signed and record.snapshot is not None
    with pytest.raises(errors.InvalidRequest):
        services.update_record(actor=owner, record_id=record.pk, issues_encountered="changed my mind")


def test_the_markdown_export_has_the_timeline_and_the_monitoring_figures(client_for, record, owner, fresh_run):
    meet_phase1()  # stage 4a needs Phase 1 done
    BarFactory(is_internal=True)
    advance(owner)
    bar = BarFactory()
    server = ServerFactory()
    in_window = timezone.now() - timedelta(minutes=30)
    SaleFactory.create_batch(195, bar=bar, server=server, created_at=in_window)
    SaleFactory.create_batch(5, bar=bar, server=None, created_at=in_window)
    SaleFactory.create_batch(50, bar=bar, server=None, created_at=record.started_at - timedelta(hours=2))
    AuditLogFactory(level="error", error_type="payment", created_at=in_window)
    for latency in (12.5, 7.5):
        run = HealthRun.objects.create(started_at=in_window, finished_at=in_window, status=CheckStatus.WARNING)
        CheckResult.objects.create(run=run, check_name="server_id_coverage", status=CheckStatus.WARNING, value=97.5)
        CheckResult.objects.create(run=run, check_name="query_latency", status=CheckStatus.OK, value=latency)
    response = client_for(owner).get(reverse("rollout:record_markdown", args=[record.pk]))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/markdown")
    text = response.content.decode()
    assert text.startswith("# Mode Switching Deployment Record")
    assert "Stage advanced" in text and "stage off → 4a, 1 bars switched" in text
    # Over the window, not the worst 5-minute value: 1 error-level log for 200 sales, 195 of them with server_id.
    assert "- Error rate: 0.5%" in text
    assert "- server_id coverage: 97.5%" in text
    assert "- RLS policy violations: 0" in text
    assert "- Performance: 10.0 ms latency" in text
    assert "| server_id_coverage | 2 | warning |" in text
    assert "/backups/bartender_pre_mode_switching_20251224.dump" in text


def test_the_record_page_prints_without_navigation(client_for, record, owner):
    page = client_for(owner).get(reverse("rollout:record", args=[record.pk]))
    assert page.status_code == 200
    assert b"Mode Switching Deployment Record" in page.content
    # The print control works through static/js/panel.js (no inline handler under the CSP).
    assert b"data-print" in page.content and b"js/panel.js" in page.content


def test_a_new_record_starts_with_the_first_phase_1_step_not_when_the_form_was_opened(client_for, owner, reviewer):
    first = runs.waive_step(actor=owner, step=RunbookStep.TEST_SUITE, reason="no CI in this test")
    RunbookRun.objects.filter(pk=first.pk).update(created_at=timezone.now() - timedelta(hours=3))
    runs.execute_run(run_id=runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF).pk)
    client = client_for(owner)
    form = client.get(reverse("rollout:record_new")).content.decode()
    assert (timezone.localtime(timezone.now() - timedelta(hours=3))).strftime("%Y-%m-%dT%H:%M") in form
    data = form_data(owner, reviewer, started_at="")
    assert client.post(reverse("rollout:record_new"), data).status_code == 302
    record = DeploymentRecord.objects.get()
    assert abs((record.started_at - (timezone.now() - timedelta(hours=3))).total_seconds()) < 60


def test_flags_off_on_the_record_is_the_verified_fact_never_a_box_the_form_accepts(client_for, owner, reviewer,
                                                                                  enable_flag):  # fmt: skip
    enable_flag.allowed_bars.add(BarFactory())
    runs.execute_run(run_id=runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF).pk)
    client = client_for(owner)
    client.post(reverse("rollout:record_new"), form_data(owner, reviewer, flags_off="true", tests_passing="true"))
    record = DeploymentRecord.objects.get()
    assert record.flags_off is False and record.tests_passing is None
    page = client.get(reverse("rollout:record", args=[record.pk])).content.decode()
    assert "Flags are not off: ENABLE_SWITCHING_MODE is on for 1 allow-listed bar(s)" in page
    enable_flag.allowed_bars.clear()
    runs.execute_run(run_id=runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF).pk)
    services.update_record(actor=owner, record_id=record.pk, issues_encountered="none")
    record.refresh_from_db()
    assert record.flags_off is True


def test_the_record_links_the_backup_and_the_phase_1_results(client_for, owner, record, backup):
    record.refresh_from_db()
    assert record.backup == backup and backup.path in record.backup_location
    page = client_for(owner).get(reverse("rollout:record", args=[record.pk])).content.decode()
    assert f"#backup-{backup.pk}" in page and backup.sha256 in page
    assert "Load test (RLS): — — Not done." in page


def test_the_sign_button_shows_with_a_hint_until_signing_is_possible(client_for, owner, reviewer, record, support_user):
    page = client_for(owner).get(reverse("rollout:record", args=[record.pk])).content.decode()
    assert 'id="sign" disabled' in page and "Set the status (successful or rolled back) first" in page
    services.update_record(actor=owner, record_id=record.pk, status="successful")
    page = client_for(owner).get(reverse("rollout:record", args=[record.pk])).content.decode()
    assert 'id="sign">Sign as deployer' in page and 'id="sign-hint"' not in page
    page = client_for(support_user).get(reverse("rollout:record", args=[record.pk])).content.decode()
    assert 'id="sign"' not in page and f"Only the deployer ({owner}) and the reviewer ({reviewer}) sign" in page


def test_the_monitoring_window_starts_with_the_code_deployment(owner, record):
    deployed = timezone.now() - timedelta(minutes=20)
    RunbookRun.objects.create(
        step=RunbookStep.DEPLOY_CHECK, status="passed", created_at=deployed, started_at=deployed, finished_at=deployed
    )
    start, end = facts.monitoring_window(record)
    assert start == deployed and end == deployed + timedelta(hours=24)
