"""`/metrics` (issue 23): the Prometheus text format, parsed by prometheus-client's own parser, against the
database; the flag API's per-process counts and latencies; the scrape token."""

import os
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from backfill.models import BackfillRun
from monitoring.health.health_checks import CHECKS
from monitoring.models import Alert, CheckResult, CheckStatus, HealthRun, Incident
from rollout.killswitch import services
from rollout.models import FeatureFlag, RolloutBarChange, RolloutState
from tests.factories import BarFactory, advance

TOKEN = "scrape-token-for-tests"


@pytest.fixture(autouse=True)
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


def scrape(client, token=TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/metrics", headers=headers)


def samples(client) -> dict:
    """{(sample name, frozenset of labels): value} of one scrape, parsed by prometheus-client."""
    response = scrape(client)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    out = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def value(figures, name, **labels):
    return figures[(name, frozenset(labels.items()))]


@pytest.mark.django_db
def test_the_scrape_reports_the_database_figures(client, owner, fresh_run):
    # The rollout at 4a with bars switched; the kill switch pulled (which also opens a critical incident).
    BarFactory.create_batch(3, is_internal=True)
    advance(owner)
    services.pull_kill_switch(actor=owner, reason="metrics test")
    # Health: a result per check in the fixture's run, one check critical with a value.
    CheckResult.objects.create(run=fresh_run, check_name=CHECKS[0].name, status=CheckStatus.CRITICAL, value=7.5)
    for check in CHECKS[1:]:
        CheckResult.objects.create(run=fresh_run, check_name=check.name, status=CheckStatus.OK, value=0)
    HealthRun.objects.filter(pk=fresh_run.pk).update(finished_at=timezone.now() - timedelta(seconds=90))
    Alert.objects.create(check_name=CHECKS[0].name, severity=CheckStatus.CRITICAL)
    Alert.objects.create(check_name=CHECKS[1].name, severity=CheckStatus.WARNING, state=Alert.State.ACKNOWLEDGED)
    Alert.objects.create(check_name=CHECKS[2].name, severity=CheckStatus.WARNING, state=Alert.State.RESOLVED,
                         resolved_at=timezone.now())  # fmt: skip
    BackfillRun.objects.create(
        status=BackfillRun.Status.RUNNING, configured_batch_size=100, batch_size=100, rows_total=1000,
        rows_done=250, active_seconds=5.0,
    )  # fmt: skip

    figures = samples(client)

    for name, status in (
        (CHECKS[0].name, CheckStatus.CRITICAL), (CHECKS[1].name, CheckStatus.OK),
    ):  # fmt: skip
        result = CheckResult.objects.filter(check_name=name).latest("run_id")
        assert value(figures, "bartender_health_check_value", check=name) == result.value
        assert value(figures, "bartender_health_check_status", check=name, bartender_health_check_status=status) == 1
        assert value(figures, "bartender_health_check_status", check=name, bartender_health_check_status="ok") == (
            status == "ok"
        )
    assert 89 <= value(figures, "bartender_health_last_run_age_seconds") < 150
    for severity, state in (("critical", "open"), ("warning", "acknowledged"), ("warning", "open")):
        expected = Alert.objects.filter(severity=severity, state=state).count()
        assert value(figures, "bartender_open_alerts", severity=severity, state=state) == expected
    assert value(figures, "bartender_open_alerts", severity="critical", state="open") == 1
    open_incidents = Incident.objects.exclude(status="resolved")
    assert value(figures, "bartender_open_incidents", severity="critical") == open_incidents.count() == 1
    rollout = RolloutState.objects.get()
    assert value(figures, "bartender_rollout_stage", bartender_rollout_stage=rollout.stage) == 1
    assert value(figures, "bartender_rollout_stage", bartender_rollout_stage="off") == 0
    assert value(figures, "bartender_rollout_paused") == 1
    switched = (
        RolloutBarChange.objects.filter(rolled_back_at=None, step__rolled_back_at=None).values("bar").distinct().count()
    )
    assert switched > 0 and value(figures, "bartender_rollout_bars_switched") == switched
    for flag in FeatureFlag.objects.all():
        assert value(figures, "bartender_flag_kill_switch_engaged", flag=flag.key) == 1
        assert value(figures, "bartender_flag_enabled_globally", flag=flag.key) == 0
        assert value(figures, "bartender_flag_allow_listed_bars", flag=flag.key) == flag.allowed_bars.count() > 0
    assert value(figures, "bartender_backfill_progress_ratio") == 0.25
    assert value(figures, "bartender_backfill_rows_per_second") == 50.0
    assert value(figures, "bartender_backfill_status", bartender_backfill_status="running") == 1


@pytest.mark.django_db
def test_a_scrape_costs_a_fixed_small_number_of_queries(client, django_assert_max_num_queries, fresh_run):
    BarFactory.create_batch(5)
    with django_assert_max_num_queries(10):  # savepoint, SET LOCAL, 7 reads, release (none per bar or check)
        scrape(client)


@pytest.mark.django_db
def test_flag_api_requests_are_counted_and_timed_per_process(client, api_token, bar):
    headers = {"Authorization": f"Bearer {api_token}"}
    before = samples(client)
    pid = str(os.getpid())
    key = ("bartender_flag_api_requests_total", frozenset({"endpoint": "flags", "code": "200", "pid": pid}.items()))
    assert client.get(f"/api/v1/flags?bar={bar.pk}", headers=headers).status_code == 200
    assert client.get("/api/v1/flags?bar=not-a-uuid", headers=headers).status_code == 400
    after = samples(client)
    assert after[key] == before.get(key, 0) + 1
    refused = ("bartender_flag_api_requests_total", frozenset({"endpoint": "flags", "code": "400", "pid": pid}.items()))
    assert after[refused] == before.get(refused, 0) + 1
    count = ("bartender_flag_api_request_duration_seconds_count", frozenset({"endpoint": "flags", "pid": pid}.items()))
    assert after[count] == before.get(count, 0) + 2
    inf = ("bartender_flag_api_request_duration_seconds_bucket",
           frozenset({"endpoint": "flags", "pid": pid, "le": "+Inf"}.items()))  # fmt: skip
    assert after[inf] == after[count]


@pytest.mark.django_db
@pytest.mark.parametrize(("token", "status"), [(None, 401), ("wrong-token", 403), (TOKEN + "x", 403)])
def test_a_missing_or_wrong_token_is_refused(client, token, status):
    response = scrape(client, token)
    assert response.status_code == status
    assert response.json()["error"] in ("token_missing", "token_invalid")
    assert b"bartender_" not in response.content


@pytest.mark.django_db
def test_without_a_configured_token_metrics_do_not_exist(client, settings):
    settings.METRICS_TOKEN = ""
    assert scrape(client, "").status_code == 404
    assert scrape(client, "anything").status_code == 404
