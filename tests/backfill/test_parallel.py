"""Issue 15: a run walks each phase as disjoint key ranges that the workers drive side by side. Whatever the
number of ranges and however their drivers interleave, pause, die and are handed back, the run ends in the state
of a one-range run, counts every row once, and a second run changes nothing."""

from datetime import timedelta

import psycopg
import pytest
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import MigrationServerIdLog, PanelEvent, Sale
from backfill import recovery, tasks
from backfill.backfill import (
    pause_backfill,
    resume_backfill,
    run_backfill,
    run_batches,
    start_backfill,
)
from backfill.models import BackfillRange, BackfillRun
from backfill.ranges import LOCK_KEY, RANGE_LOCK_KEY, split_ranges
from backfill.sources import SOURCE_BY_PHASE as SOURCES
from tests.factories import (
    BarFactory,
    ConsignmentFactory,
    ReturnFactory,
    SaleFactory,
    ServerFactory,
    ServerNameMappingFactory,
    confirmed_full_backfill,
    member,
    snapshot,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def data(scenario):
    """The scenario (every reason once) plus two bars' worth of sales, consignments and returns in between."""
    for b in range(2):
        bar = BarFactory(name=f"Parallel {b}")
        users = [member(bar, ServerFactory(username=f"par{b}_{i}")) for i in range(3)]
        for i, user in enumerate(users):
            ServerNameMappingFactory(bar=bar, server_name=f"Server {i}", user=user)
        sales = [SaleFactory(bar=bar, server_name=f"server {i % 4}", created_by=users[i % 2]) for i in range(17)]
        for sale in sales[::4]:
            ReturnFactory(bar=bar, sale=sale, created_by=users[0])
        ConsignmentFactory(bar=bar, server_name="SERVER 1", created_by=users[1])
    return scenario


def one_range_outcome() -> tuple[dict, dict]:
    """What a one-range run ends with (state and counters), then rolled back."""
    with transaction.atomic():
        run = run_backfill(batch_size=3)
        assert run.ranges == 1
        outcome = snapshot(), counters(run)
        transaction.set_rollback(True)
    return outcome


def counters(run: BackfillRun) -> dict:
    run.refresh_from_db()
    return {
        "rows_done": run.rows_done,
        "resolved_directly": run.resolved_directly,
        "resolved_by_fallback": run.resolved_by_fallback,
        "unresolved": run.unresolved,
        "reason_counts": run.reason_counts,
    }


@pytest.fixture
def other_session():
    """A second database session: another worker process, as far as PostgreSQL's locks are concerned."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as conn:
        yield conn


def hold(session, run: BackfillRun, rng: BackfillRange) -> None:
    """The other session drives `rng`, as a range driver does (the range's lock and a share of the run's)."""
    session.execute(
        "SELECT pg_advisory_lock(%s, %s), pg_advisory_lock_shared(%s, %s)", [RANGE_LOCK_KEY, rng.pk, LOCK_KEY, run.pk]
    )


def release(session, run: BackfillRun, rng: BackfillRange) -> None:
    session.execute(
        "SELECT pg_advisory_unlock(%s, %s), pg_advisory_unlock_shared(%s, %s)",
        [RANGE_LOCK_KEY, rng.pk, LOCK_KEY, run.pk],
    )


@pytest.mark.parametrize("ranges", [2, 3, 7])
def test_any_number_of_ranges_ends_like_one_range_and_counts_each_row_once(data, ranges):
    expected_state, expected_counters = one_range_outcome()
    run = start_backfill(batch_size=3, ranges=ranges)
    assert run_batches(run_id=run.pk).run.status == BackfillRun.Status.FINISHED
    assert snapshot() == expected_state
    assert counters(run) == expected_counters
    assert run.rows_done == run.rows_total == MigrationServerIdLog.objects.count()
    sales_ranges = list(BackfillRange.objects.filter(run=run, phase="sales"))
    assert len(sales_ranges) == ranges and all(rng.done for rng in sales_ranges)
    assert sum(r.rows_done for r in BackfillRange.objects.filter(run=run)) == run.rows_done
    assert set(BackfillRange.objects.filter(run=run).values_list("phase", flat=True)) == {
        "sales",
        "consignments",
        "returns",
    }


def test_ranges_split_the_keys_without_gap_or_overlap_and_the_last_is_open(data):
    ids = sorted(Sale.objects.values_list("pk", flat=True))
    bounds = split_ranges(SOURCES["sales"], None, 3, 0)
    assert len(bounds) == 3 and bounds[0][0] == 0 and bounds[-1][1] is None
    assert all(bounds[i][1] == bounds[i + 1][0] for i in range(2))
    in_ranges = [[i for i in ids if low < i and (high is None or i <= high)] for low, high in bounds]
    assert sorted(sum(in_ranges, [])) == ids and all(in_ranges)
    assert split_ranges(SOURCES["sales"], None, 5, ids[-1]) == [(ids[-1], None)]  # nothing left: one open range


def test_a_range_another_worker_drives_is_left_to_it_and_the_phase_waits_for_it(data, other_session):
    expected_state, _ = one_range_outcome()
    run = start_backfill(batch_size=3, ranges=2)
    run_batches(run_id=run.pk, max_batches=1)  # makes the ranges, does one batch of the first
    first, second = BackfillRange.objects.filter(run=run, phase="sales").order_by("position")
    hold(other_session, run, first)
    piece = run_batches(run_id=run.pk)  # takes the free second range, walks it, then finds nothing free
    assert not piece.drove and piece.batches > 0
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.done and not first.done and first.batches == 1
    run.refresh_from_db()
    assert run.phase == "sales" and run.status == BackfillRun.Status.RUNNING  # the phase waits for the first range
    release(other_session, run, first)
    assert run_batches(run_id=run.pk).run.status == BackfillRun.Status.FINISHED
    assert snapshot() == expected_state


def test_the_panel_start_fans_out_one_task_per_range(data, eager_celery, product_user, client_for, settings):
    expected_state, expected_counters = one_range_outcome()
    del settings.BACKFILL_RANGES  # the default: one range per Celery worker process
    settings.CELERY_WORKER_CONCURRENCY = 2
    slices = []
    real = tasks.run_batches

    def counting(**kwargs):
        piece = real(**kwargs)
        slices.append(piece.batches)
        return piece

    tasks.run_batches = counting
    try:
        confirmed_full_backfill(client_for(product_user), {"batch_size": 3})
    finally:
        tasks.run_batches = real
    run = BackfillRun.objects.get()
    assert run.status == BackfillRun.Status.FINISHED and run.ranges == 2  # one range per worker process
    assert snapshot() == expected_state and counters(run) == expected_counters
    assert len([n for n in slices if n]) >= 2  # a second task drove a range of its own
    assert all(rng.batches for rng in BackfillRange.objects.filter(run=run, phase="sales"))


def test_pause_stops_every_range_and_resume_carries_all_of_them_on(data, eager_celery):
    expected_state, expected_counters = one_range_outcome()
    run = start_backfill(batch_size=3, ranges=2)
    run_batches(run_id=run.pk, max_batches=2)
    pause_backfill(run=run)
    paused = snapshot()
    before = counters(run)
    for _ in range(2):  # every driver that comes by (two workers) stops at once
        piece = run_batches(run_id=run.pk)
        assert piece.batches == 0 and piece.run.status == BackfillRun.Status.PAUSED and not piece.more_to_do
    assert snapshot() == paused and counters(run) == before
    assert not BackfillRange.objects.filter(run=run, phase="sales", done=True).exists()
    resume_backfill(run=run)
    assert tasks.enqueue_backfill(run.pk)
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.FINISHED
    assert snapshot() == expected_state and counters(run) == expected_counters


def test_a_killed_range_is_handed_back_by_the_watchdog_while_the_other_goes_on(data, eager_celery, other_session):
    expected_state, expected_counters = one_range_outcome()
    run = start_backfill(batch_size=3, ranges=2, via=BackfillRun.Via.TASK)
    run_batches(run_id=run.pk, max_batches=1)
    first, second = BackfillRange.objects.filter(run=run, phase="sales").order_by("position")
    hold(other_session, run, first)  # a live worker drives the first range...
    stale = timezone.now() - timedelta(seconds=django_settings.BACKFILL_STALLED_AFTER_SECONDS + 5)
    BackfillRange.objects.filter(pk=second.pk).update(updated_at=stale)  # ...the second one's worker was killed
    BackfillRun.objects.filter(pk=run.pk).update(updated_at=timezone.now())  # the run itself still moves

    assert tasks.redrive_stalled_backfills(trigger="schedule") == [run.pk]
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.done and not first.done  # the killed range was driven to its end, the live one left alone
    event = PanelEvent.objects.get(action=recovery.REDRIVE)
    assert event.actor is None and "Key range 2 of 2 (sales)" in event.reason

    # Now the first range's worker dies too (its session ends, its locks with it); the next tick hands it back.
    release(other_session, run, first)
    idle = django_settings.BACKFILL_STALLED_AFTER_SECONDS
    later = timezone.now() + timedelta(seconds=idle + 1)
    handed = recovery.redrive_stalled_runs(idle_seconds=idle, enqueue=tasks.enqueue_backfill, trigger="t", now=later)
    assert handed == [run.pk]
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.FINISHED
    assert snapshot() == expected_state and counters(run) == expected_counters


def test_a_range_driven_by_a_live_worker_is_not_handed_over(data, other_session):
    run = start_backfill(batch_size=3, ranges=2, via=BackfillRun.Via.TASK)
    run_batches(run_id=run.pk, max_batches=1)
    stale = timezone.now() - timedelta(seconds=django_settings.BACKFILL_STALLED_AFTER_SECONDS + 5)
    BackfillRange.objects.filter(run=run).update(updated_at=stale)
    BackfillRun.objects.filter(pk=run.pk).update(updated_at=stale)
    for rng in BackfillRange.objects.filter(run=run):
        hold(other_session, run, rng)
    assert recovery.stalled_runs(idle_seconds=django_settings.BACKFILL_STALLED_AFTER_SECONDS) == []


@pytest.mark.parametrize("second_ranges", [1, 2])
def test_a_second_parallel_run_changes_nothing(data, second_ranges):
    first = start_backfill(batch_size=3, ranges=2)
    run_batches(run_id=first.pk)
    state = snapshot()
    second = start_backfill(batch_size=3, ranges=second_ranges)
    assert run_batches(run_id=second.pk).run.status == BackfillRun.Status.FINISHED
    assert snapshot() == state
    second.refresh_from_db()
    assert second.rows_done == second.rows_total == 0


def test_a_support_user_cannot_start_pause_or_resume_a_parallel_run(data, client_for, support_user):
    run = start_backfill(batch_size=3, ranges=2)
    client = client_for(support_user)
    assert client.post(reverse("backfill:backfill_pause", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.RUNNING
    pause_backfill(run=run)
    assert client.post(reverse("backfill:backfill_resume", args=[run.pk])).status_code == 403
    assert client.post(reverse("backfill:backfill_start"), {"batch_size": 3}).status_code == 403
    run.refresh_from_db()
    assert run.status == BackfillRun.Status.PAUSED and BackfillRun.objects.count() == 1
