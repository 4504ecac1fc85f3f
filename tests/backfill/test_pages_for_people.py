"""Issue 14 on the backfill, migration-log and validation pages: names not UUIDs, one source of truth after an
action, the same words and figures on every page, empty states that explain, the full-backfill confirmation."""

import re

import pytest
from django.urls import reverse

from adminpanel.models import MigrationServerIdLog, PanelEvent
from backfill.backfill import run_batches, start_backfill
from backfill.models import BackfillRun, ValidationRun
from backfill.selectors import log_totals, run_outcomes
from backfill.validation import run_validation
from tests.factories import BarFactory, confirmed_full_backfill, make_product, snapshot

pytestmark = pytest.mark.django_db


# --- Filters by name ------------------------------------------------------------------------------------


def log_row(bar, sale_id, **kw):
    return MigrationServerIdLog.objects.create(sale_id=sale_id, bar=bar, server_name="Awa", **kw)


def test_the_migration_log_filters_by_bar_name(support_user, bar, other_bar, client_for):
    log_row(bar, 1)
    log_row(other_bar, 2)
    html = client_for(support_user).get(reverse("backfill:migration_log"), {"bar": "maquis baobab"}).content.decode()
    assert "Enter a valid UUID" not in html
    assert "sale 1" in html and "sale 2" not in html


def test_a_bar_id_still_works_and_the_box_shows_the_name(support_user, bar, other_bar, client_for):
    log_row(bar, 1)
    log_row(other_bar, 2)
    html = client_for(support_user).get(reverse("backfill:migration_log"), {"bar": str(bar.pk)}).content.decode()
    assert "sale 1" in html and "sale 2" not in html
    assert 'value="Maquis Baobab"' in html


def test_an_ambiguous_bar_name_lists_the_candidates_and_filters_nothing(support_user, client_for):
    one, two = BarFactory(name="Test Bar 1"), BarFactory(name="Test Bar 1")
    log_row(one, 1)
    log_row(two, 2)
    html = client_for(support_user).get(reverse("backfill:migration_log"), {"bar": "Test Bar 1"}).content.decode()
    assert "2 bars are called" in html
    assert f"id {str(one.pk)[:8]}" in html and f"id {str(two.pk)[:8]}" in html
    assert "sale 1" not in html and "sale 2" not in html
    assert "nothing was filtered by a guess" in html


def test_the_export_with_an_unknown_bar_name_is_refused_with_the_reason(support_user, bar, client_for):
    log_row(bar, 1)
    response = client_for(support_user).get(reverse("backfill:migration_log_export"), {"bar": "Nowhere"})
    assert response.status_code == 400
    assert "No bar you may see is called “Nowhere”" in response.content.decode()


def test_both_date_boxes_have_a_name(support_user, client_for):
    html = client_for(support_user).get(reverse("backfill:migration_log")).content.decode()
    assert 'aria-label="Logged from (date)"' in html and 'aria-label="Logged to (date)"' in html


# --- Empty states -----------------------------------------------------------------------------------------


def test_the_migration_log_before_any_backfill_says_so_with_a_link(support_user, product_user, client_for):
    url = reverse("backfill:migration_log")
    support = client_for(support_user).get(url).content.decode()
    assert "No backfill has run yet" in support and "A product owner starts it" in support
    assert 'href="/backfill/"' in support and "No log rows match" not in support
    product = client_for(product_user).get(url).content.decode()
    assert "Start one on the" in product


def test_a_filter_that_matches_nothing_says_so(support_user, bar, client_for):
    log_row(bar, 1, fallback_used=False)
    html = client_for(support_user).get(reverse("backfill:migration_log"), {"server_name": "zzz"}).content.decode()
    assert "No log rows match these filters" in html


def test_the_summary_before_any_backfill_explains(support_user, client_for):
    html = client_for(support_user).get(reverse("backfill:migration_log_summary")).content.decode()
    assert "No backfill has written a log row yet" in html


# --- Full backfill: confirmation with blast radius --------------------------------------------------------


def test_a_full_backfill_is_refused_without_confirmation_and_shows_the_rows_it_fills(
    scenario, product_user, client_for
):
    before = snapshot()
    response = client_for(product_user).post(reverse("backfill:backfill_start"), {"batch_size": "3"})
    html = response.content.decode()
    assert response.status_code == 200
    assert BackfillRun.objects.count() == 0 and snapshot() == before
    # 6 sales + 1 consignment + 3 returns without server_id and without a log row: counted from the database.
    assert "This fills server_id on up to 9 rows" in html
    assert "sales: 5" in html and "consignments: 1" in html and "returns: 3" in html
    assert "Pause" in html and "Option C" in html  # how to stop and undo it
    assert 'name="confirmed"' in html


def test_the_confirmed_full_backfill_starts_and_is_audited(scenario, product_user, client_for, eager_celery):
    confirmed_full_backfill(client_for(product_user), {"batch_size": "3"})
    run = BackfillRun.objects.get()
    assert run.bar is None and run.status == BackfillRun.Status.FINISHED
    assert PanelEvent.objects.filter(action="backfill.start", actor=product_user).exists()


def test_confirmed_on_without_the_pages_token_starts_nothing(scenario, product_user, client_for, eager_celery):
    before = snapshot()
    client = client_for(product_user)
    response = client.post(reverse("backfill:backfill_start"), {"batch_size": "3", "confirmed": "on"})
    # The row-count page is shown instead, saying why, and nothing ran.
    html = response.content.decode()
    assert response.status_code == 400 and "Confirm first" in html and "This fills server_id on up to 9 rows" in html
    forged = client.post(
        reverse("backfill:backfill_start"),
        {"batch_size": "3", "confirmed": "on", "shown": "sales=0", "confirm_token": "forged"},
    )
    assert forged.status_code == 400 and "not valid" in forged.content.decode()
    assert BackfillRun.objects.count() == 0 and snapshot() == before


def test_the_full_backfill_token_is_bound_to_its_user_its_counts_and_used_once(
    scenario, product_user, client_for, eager_celery
):
    url = reverse("backfill:backfill_start")
    first = client_for(product_user).post(url, {"batch_size": "3"}).content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', first))
    assert hidden["shown"] == "consignments=1;returns=3;sales=5"
    other = client_for(make_product(username="product_b")).post(url, {"batch_size": "3", **hidden})
    assert other.status_code == 400 and "another account" in other.content.decode()
    tampered = client_for(product_user).post(url, {"batch_size": "3", **hidden, "shown": "sales=1"})
    assert tampered.status_code == 400 and "has changed since" in tampered.content.decode()
    assert BackfillRun.objects.count() == 0
    client = client_for(product_user)
    assert client.post(url, {"batch_size": "3", **hidden}).status_code == 302
    assert BackfillRun.objects.count() == 1
    replay = client.post(url, {"batch_size": "3", **hidden})
    assert replay.status_code == 400 and "already used" in replay.content.decode()
    assert BackfillRun.objects.count() == 1


def test_a_dry_run_or_one_bar_needs_no_confirmation(scenario, product_user, client_for, eager_celery):
    client = client_for(product_user)
    client.post(reverse("backfill:backfill_start"), {"dry_run": "on"})
    client.post(reverse("backfill:backfill_start"), {"bar": "Maquis Scenario"})
    assert BackfillRun.objects.filter(dry_run=True).count() == 1
    assert BackfillRun.objects.filter(bar=scenario.bar).count() == 1


def test_the_start_form_picks_a_bar_by_name(scenario, product_user, client_for):
    html = client_for(product_user).get(reverse("backfill:backfill")).content.decode()
    assert 'placeholder="uuid"' not in html and 'hx-get="/pick/bars/?field=bar"' in html


def test_support_cannot_confirm_a_full_backfill(scenario, support_user, client_for):
    response = client_for(support_user).post(reverse("backfill:backfill_start"), {"confirmed": "on"})
    assert response.status_code == 403 and BackfillRun.objects.count() == 0


# --- One source of truth after an action ----------------------------------------------------------------


def test_the_progress_answer_refreshes_the_recent_runs_with_the_same_figures(scenario, support_user, client_for):
    run = start_backfill(batch_size=2)
    run_batches(run_id=run.pk)  # runs to the end
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.FINISHED
    html = client_for(support_user).get(reverse("backfill:backfill_progress", args=[run.pk])).content.decode()
    oob = html[html.index('id="recent-runs" hx-swap-oob="true"') :]
    assert "Finished" in oob and f"{run.rows_done} / {run.rows_total}" in oob
    assert "Running" not in oob


def test_a_stopped_run_tells_the_page_to_refresh_the_whole_log_totals(scenario, product_user, client_for):
    run = start_backfill(batch_size=2)
    response = client_for(product_user).post(reverse("backfill:backfill_pause", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert response["HX-Trigger"] == "backfill-changed"


def test_a_new_validation_run_appears_in_earlier_runs_at_once(db, product_user, client_for):
    run_validation(run_by=product_user)
    response = client_for(product_user).post(reverse("backfill:validation_run"), HTTP_HX_REQUEST="true")
    newest = ValidationRun.objects.first()
    html = response.content.decode()
    history = html[html.index('id="validation-history" hx-swap-oob="true"') :]
    assert reverse("backfill:validation_detail", args=[newest.pk]) in history
    assert history.count("<tr><td><a href=") == 2


def test_a_validation_by_someone_without_the_right_is_refused(db, support_user, client_for):
    assert client_for(support_user).post(reverse("backfill:validation_run")).status_code == 403
    assert ValidationRun.objects.count() == 0


# --- The same words and figures on the backfill page and the validation --------------------------------


def test_run_figures_add_up_and_sum_to_the_whole_log_that_the_validation_shows(scenario, product_user):
    run = start_backfill(batch_size=2)
    run_batches(run_id=run.pk)
    run.refresh_from_db()
    mine, whole = run_outcomes(run), log_totals()
    assert mine.by_mapping + mine.fallback_used == mine.examined
    assert mine.by_fallback + mine.left_null + mine.failed == mine.fallback_used
    # One run so far: the run's figures are the whole log's.
    assert (mine.examined, mine.by_mapping, mine.fallback_used, mine.by_fallback, mine.left_null) == (
        whole.examined,
        whole.by_mapping,
        whole.fallback_used,
        whole.by_fallback,
        whole.left_null,
    )
    line = run_validation(run_by=product_user).checks.get(key="backfill_results")
    assert line.value == whole.sentence()
    assert f"{whole.by_mapping:,} resolved by mapping" in line.value
    assert f"{whole.left_null:,} left without a server" in line.value


def test_the_backfill_card_says_it_counts_this_run_only(scenario, support_user, client_for):
    run = start_backfill(batch_size=2)
    run_batches(run_id=run.pk)
    html = client_for(support_user).get(reverse("backfill:backfill")).content.decode()
    assert "this run only" in html and "resolved by mapping" in html and "left without a server" in html
    totals = client_for(support_user).get(reverse("backfill:backfill_totals")).content.decode()
    assert "every run so far" in totals
    assert re.search(r"resolved by mapping</span><strong>\d", totals)


def test_times_are_human_not_iso(scenario, support_user, client_for):
    start_backfill(batch_size=2)
    html = client_for(support_user).get(reverse("backfill:backfill")).content.decode()
    assert "<time datetime=" in html and " UTC</time>" in html
    assert not re.search(r">\d{4}-\d{2}-\d{2} \d{2}:\d{2}", html)
