"""Health checks speak to people: names in words, values in the threshold's unit, the sample, what to do, the
runbook section; the alert list and the alert mail say the same words (monitoring.health.check_texts)."""

import re

from django.core import mail
from django.urls import reverse
from django.utils import timezone

from monitoring.health import check_presentation, check_texts, runbook_markdown, services
from monitoring.health.health_checks import CHECKS
from monitoring.models import Alert, CheckResult, HealthRun


def result(name, **fields):
    now = timezone.now()
    run = HealthRun.objects.create(started_at=now, finished_at=now, status=fields.get("status", "ok"))
    return CheckResult.objects.create(run=run, check_name=name, **fields)


def test_every_check_has_a_name_in_words_a_meaning_what_to_do_and_a_runbook_section_that_exists():
    anchors = runbook_markdown.runbook_anchors()
    for check in CHECKS:
        text = check_texts.TEXTS[check.name]
        assert text.title and "_" not in text.title.replace("server_id", ""), check.name
        assert text.meaning and text.todo
        assert text.section in anchors, (check.name, text.section)


def test_the_error_rate_is_shown_in_percent_against_its_percent_threshold(db):
    shown = check_presentation.present(
        "error_logs",
        result(
            "error_logs", status="critical", value=1.0, threshold="critical: error rate > 1 %, warning > 0 errors",
            detail={"errors": 1, "sales": 3, "error_rate_pct": 25.0, "window_minutes": 5,
                    "sample_text": "3 sales, 1 error"},
        ),
    )  # fmt: skip
    assert shown.value_text == "25 %"
    assert shown.secondary == "1 error-level log"
    assert shown.threshold_text == "critical: error rate above 1 %, warning above 0 errors"
    assert shown.sample_text == "of 3 sales, 1 error in the last 5 min"


def test_coverage_says_the_sample_it_stands_on(db):
    shown = check_presentation.present(
        "server_id_coverage",
        result(
            "server_id_coverage", status="warning", value=97.5, threshold="critical < 95 %, warning < 98 %",
            detail={"sales": 1234, "with_server_id": 1203, "window_hours": 24, "sample_text": "1,234 sales"},
        ),
    )  # fmt: skip
    assert (shown.title, shown.value_text) == ("Sales that carry a server (last 24 h)", "97.5 %")
    assert shown.sample_text == "of 1,234 sales in the last 24 h"
    assert ("Sales with a server", "1,203") in shown.detail_rows


def test_the_run_page_is_a_readable_table_with_the_plans_behind_details(client_for, support_user):
    explained = result(
        "indexes_usable", status="ok", value=0, threshold="warning: sequential scan",
        detail={"problems": [], "plans": {"server_id": {"chosen": [{"node": "Index Only Scan", "relation": "sales",
                "index": "sales_server_id_idx"}], "index_only": []}}},
    )  # fmt: skip
    page = client_for(support_user).get(reverse("monitoring:run", args=[explained.run_id])).content.decode()
    assert "Indexes serve the rollout&#x27;s queries" in page or "Indexes serve the rollout's queries" in page
    assert "For engineers: query plans (EXPLAIN)" in page
    assert re.search(r"<td>Index Only Scan</td><td>sales</td><td>sales_server_id_idx</td>", page)
    assert "{&#x27;" not in page and "{'" not in page  # no Python dict


def test_the_status_shows_words_not_keys_and_the_meaning_not_the_query_time(client_for, support_user, make_sales):
    make_sales(100, 97)
    services.run_health_checks()
    page = client_for(support_user).get(reverse("monitoring:status")).content.decode()
    visible = re.sub(r"<[^>]+>", " ", page)
    assert "server_id_coverage" not in visible and "resolution_error_rate" not in visible
    assert "Sales that carry a server (last 24 h)" in visible and "97 %" in visible
    assert "of 100 sales in the last 24 h" in visible
    assert "What it means, what to do" in visible and "/runbook/#health-check-queries" in page
    assert "data-poll-guard" in page  # the 30 s poll waits while someone types an acknowledgement


def test_the_alert_list_and_the_alert_mail_say_the_same_words(client_for, support_user, make_sales, settings):
    settings.ALERT_EMAILS = ["oncall@example.com"]
    settings.ALERT_NOTIFY_RETRY_DELAY = 0
    make_sales(100, 90)
    services.run_health_checks()
    alert = Alert.objects.get(check_name="server_id_coverage")
    page = client_for(support_user).get(reverse("monitoring:alerts")).content.decode()
    body = mail.outbox[-1].body
    for label, text in check_presentation.alert_lines(alert):
        if label in ("Check", "What it means", "What to do"):
            assert text in page.replace("&#x27;", "'"), label
            assert f"{label}: {text}" in body
    assert "Value: 90 % — critical below 95 %, warning below 98 %" in body


def test_the_runbook_page_serves_every_section_with_its_anchor(client_for, support_user):
    page = client_for(support_user).get(reverse("monitoring:runbook")).content.decode()
    for anchor in (check_texts.CRITICAL_ALERTS, check_texts.WARNING_ALERTS, check_texts.OPTION_A):
        assert f'id="{anchor}"' in page
    assert "<script" not in page.split("<main")[1].split("</main>")[0]


def test_empty_alert_list_says_what_happens_next(client_for, support_user):
    page = client_for(support_user).get(reverse("monitoring:alerts")).content.decode()
    assert "No alert has opened yet" in page
