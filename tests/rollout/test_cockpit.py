"""The runbook cockpit: the home page of product owners and support, every phase's state from the facts."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from backfill.models import ValidationCheck, ValidationRun
from rollout import permissions
from rollout.models import RunbookRun, RunbookStep
from rollout.runbook import runs
from tests.factories import BarFactory, SaleFactory, grant_owner, make_product, meet_phase1, state, token_from

pytestmark = pytest.mark.runs_phase1


def steps_of(page: str) -> dict[str, str]:
    return dict(re.findall(r'<li class="step" id="step-([\w-]+)" data-state="(\w+)"', page))


def test_product_owners_land_on_the_cockpit_with_every_phase_and_the_next_action(client_for, owner):
    page = client_for(owner).get(reverse("home")).content.decode()
    assert 'id="cockpit"' in page and 'hx-get="/cockpit/"' in page and "data-poll-guard" in page
    for phase in ("phase-1", "phase-2", "phase-3", "phase-4", "day-1", "week-1"):
        assert f'id="{phase}"' in page
    states = steps_of(page)
    assert states["migrations"] == states["backfill"] == states["validation"] == "passed"
    assert states["backup"] == states["flags_off"] == states["deploy_check"] == "not_started"
    assert states["phase3_window"] == "passed" and states["stage_4a"] == "not_started"
    assert 'id="next-step"' in page and "Test suite and build (CI run)</strong></a>\n      — Record the CI run." in page
    assert 'id="action-backup"' in page and 'id="action-stage_4a"' in page


def test_support_reads_everything_but_gets_no_button_only_who_may(client_for, support_user, owner):
    page = client_for(support_user).get(reverse("home")).content.decode()
    assert 'id="cockpit"' in page and 'id="support-overview"' in page
    assert 'id="action-' not in page and "Waive this step" not in page
    assert f"Product owners may: {owner.username}" in page
    assert client_for(support_user).get(reverse("rollout:cockpit")).status_code == 200


def test_bar_managers_keep_their_bars_and_never_see_the_cockpit(client_for, manager):
    client = client_for(manager)
    page = client.get(reverse("home")).content.decode()
    assert 'id="manager-overview"' in page and 'id="cockpit"' not in page
    assert client.get(reverse("rollout:cockpit")).status_code == 403


def test_a_step_shows_its_evidence_who_and_when(client_for, owner):
    run = runs.execute_run(run_id=runs.request_run(actor=owner, step=RunbookStep.FLAGS_OFF).pk)
    page = client_for(owner).get(reverse("rollout:cockpit")).content.decode()
    assert steps_of(page)["flags_off"] == "passed"
    assert f'href="/runbook/runs/{run.pk}/">Evidence: Run #{run.pk}</a>' in page and owner.username in page
    assert "Both flags off for every bar" in page and "Verify the flags are off again" in page


def test_a_running_step_shows_its_progress_and_a_waiver_shows_its_reason(client_for, owner):
    run = runs.request_run(actor=owner, step=RunbookStep.BACKUP)
    RunbookRun.objects.filter(pk=run.pk).update(status="running", progress=40, progress_note="dumping table sales")
    runs.waive_step(actor=owner, step=RunbookStep.LOAD_TEST, reason="Load tested on staging yesterday")
    page = client_for(owner).get(reverse("rollout:cockpit")).content.decode()
    states = steps_of(page)
    assert states["backup"] == "running" and states["load_test"] == "waived"
    assert 'value="40"' in page and "dumping table sales" in page and 'id="action-backup"' not in page
    assert "Waived by owner: Load tested on staging yesterday" in page


def test_a_failed_validation_shows_each_failed_check_in_words(client_for, owner):
    run = ValidationRun.objects.create(passed=False)
    ValidationCheck.objects.create(
        run=run, position=1, key="server_id_population", section="2.2", label="1. server_id population",
        passed=False, value="775 of 1000 sales have server_id (77.5 %)", expected="with_server_id > 95 % of total",
        sql="SELECT 1",
    )  # fmt: skip
    page = client_for(owner).get(reverse("home")).content.decode()
    assert steps_of(page)["validation"] == "failed"
    assert "1. server_id population: 775 of 1000 sales have server_id (77.5 %)" in page
    assert "Run the validation again" in page


def test_stage_4a_shows_its_gates_and_blast_radius_and_starts_from_the_cockpit(client_for, owner, fresh_run):
    meet_phase1()  # stage 4a needs Phase 1 done
    BarFactory.create_batch(2, is_internal=True)
    client = client_for(owner)
    page = client.get(reverse("home")).content.decode()
    assert 'data-gate="backfill_finished"' in page and 'data-gate="phase3_window_passed"' in page
    assert "Switches 2 bars to simplified mode" in page and "Yes: switch these 2 bars now." in page
    refused = client.post(reverse("rollout:cockpit_advance"), {"version": state().version}, follow=True)
    assert "Tick the confirmation" in refused.content.decode() and state().stage == "off"
    data = {"version": state().version, "confirm": "1", "confirm_token": token_from(client)}
    done = client.post(reverse("rollout:cockpit_advance"), data, follow=True)
    assert "Stage 4a: 2 bars switched" in done.content.decode() and state().stage == "4a"
    assert steps_of(done.content.decode())["stage_4a"] == "running"


def test_the_cockpit_costs_the_same_queries_whatever_the_sales_and_never_counts_them(client_for, owner):
    client = client_for(owner)
    client.get(reverse("rollout:cockpit"))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("rollout:cockpit"))
    bar = BarFactory()
    SaleFactory.create_batch(60, bar=bar)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("rollout:cockpit"))
    assert len(many) == len(few) < 40
    assert not [q["sql"] for q in many.captured_queries if re.search(r'FROM "?sales"?\b', q["sql"])]


@pytest.mark.parametrize("user_fixture", ["support_user", "owner", "superuser"])
def test_every_reader_gets_the_page(client_for, request, user_fixture):
    assert client_for(request.getfixturevalue(user_fixture)).get(reverse("home")).status_code == 200


def test_the_cockpits_one_go_permissions_answer_like_the_single_predicates(owner, support_user, superuser, db):
    flipper = grant_owner(make_product(username="flipper_only"))
    for user in (owner, support_user, superuser, flipper, make_product(username="bare_product")):
        assert permissions.capabilities(user) == {
            "stages": permissions.can_operate_stages(user),
            "override": permissions.can_override_gates(user),
            "rollback": permissions.can_trigger_rollback(user),
        }, user.username


def test_each_phase_shows_its_runbook_time_box_and_an_overrun_is_flagged_not_blocked(client_for, owner):
    """Issue 21: the phases' time boxes (2 hours, 30 minutes, 15 minutes, 1-3 days) against the actual times."""
    from datetime import timedelta

    from django.utils import timezone

    from rollout.models import RunbookRun, RunbookStep

    start = timezone.now() - timedelta(hours=3)
    for step, at in ((RunbookStep.TEST_SUITE, start), (RunbookStep.BACKUP, start + timedelta(minutes=40))):
        RunbookRun.objects.create(step=step, status=RunbookRun.Status.PASSED, created_at=at, finished_at=at,
                                  requested_by_name="deployer")  # fmt: skip
    page = client_for(owner).get(reverse("home")).content.decode()
    phase1 = page[page.index('id="phase-1"'):page.index('id="phase-2"')]
    assert "Time box 2 hours (runbook): running for 3 h" in phase1 and "over by 1 h" in phase1
    assert 'data-overran="yes"' in phase1
    phase2 = page[page.index('id="phase-2"'):page.index('id="phase-3"')]
    assert "Time box 30 minutes (runbook)" in phase2
