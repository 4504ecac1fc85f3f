"""The backfill service: resolution, fallback reasons, idempotence, interruption, dry run, one-bar mode."""

import pytest
from django.db import connection

from adminpanel.models import MigrationServerIdLog, Sale
from backfill import backfill_sql, batches, sources
from backfill.backfill import (
    BackfillAlreadyActive,
    resume_backfill,
    run_backfill,
    run_batches,
    start_backfill,
)
from backfill.models import BackfillRun
from backfill.sources import FAILED_PREFIX, FALLBACK_REASONS
from mappings.names import normalize_server_name
from tests.factories import (
    BarFactory,
    ReturnFactory,
    SaleFactory,
    ServerFactory,
    ServerNameMappingFactory,
    member,
    snapshot,
)

pytestmark = pytest.mark.django_db


def log_of(obj) -> MigrationServerIdLog:
    field = {"sale": "sale_id", "consignment": "consignment_id", "return": "return_id"}[obj._meta.model_name]
    return MigrationServerIdLog.objects.get(**{field: obj.pk})


def test_mapped_names_resolve_through_the_normalised_mapping(scenario):
    run = run_backfill(batch_size=3)
    scenario.mapped.refresh_from_db()
    scenario.consignment.refresh_from_db()
    assert run.status == BackfillRun.Status.FINISHED
    assert scenario.mapped.server_id == scenario.aicha.pk
    assert scenario.consignment.server_id == scenario.aicha.pk
    log = log_of(scenario.mapped)
    assert (log.fallback_used, log.fallback_reason, log.resolved_server_id) == (False, None, scenario.aicha.pk)
    assert log.server_name == "  AÏCHA "


def test_each_fallback_reason_occurs_and_is_logged_once(scenario):
    run_backfill(batch_size=2)
    expected = {
        scenario.no_name: ("no_server_name", scenario.moussa.pk),  # the recording user is a server: fallback
        scenario.unmapped: ("unmapped_name", None),  # recorded by a manager: no fallback
        scenario.deleted: ("mapping_user_deleted", None),
        scenario.inactive: ("inactive_member", None),
        scenario.return_without_sale: ("no_sale", None),
        scenario.return_of_unresolved: ("sale_unresolved", None),
    }
    for row, (reason, resolved) in expected.items():
        log = log_of(row)
        assert (log.fallback_used, log.fallback_reason, log.resolved_server_id) == (True, reason, resolved)
        row.refresh_from_db()
        assert row.server_id == resolved
    reasons = list(MigrationServerIdLog.objects.exclude(fallback_reason=None).values_list("fallback_reason", flat=True))
    assert sorted(reasons) == sorted(FALLBACK_REASONS)


def test_a_return_follows_its_sale_once_the_sale_is_backfilled(scenario):
    run_backfill()
    scenario.return_of_mapped.refresh_from_db()
    assert scenario.return_of_mapped.server_id == scenario.aicha.pk
    assert log_of(scenario.return_of_mapped).fallback_used is False


def test_rows_that_already_have_a_server_are_left_alone_and_not_logged(scenario):
    run_backfill()
    scenario.already.refresh_from_db()
    assert scenario.already.server_id == scenario.moussa.pk
    assert not MigrationServerIdLog.objects.filter(sale_id=scenario.already.pk).exists()


def test_every_row_touched_gets_exactly_one_log_row(scenario):
    run = run_backfill(batch_size=1)
    pending = 5 + 1 + 3  # sales without server, the consignment, the returns
    assert MigrationServerIdLog.objects.count() == pending == run.rows_done == run.rows_total
    assert run.resolved_directly + run.resolved_by_fallback + run.unresolved + run.failed_rows == pending


def test_the_resolution_uses_pythons_normalisation_for_lookalike_unicode(db):
    bar = BarFactory()
    user = member(bar, ServerFactory(username="fullwidth"))
    ServerNameMappingFactory(bar=bar, server_name="Ｊｏｓé\u00a0 Ｍａｒｉａ", user=user)
    sale = SaleFactory(bar=bar, server_name="josé maria")
    assert normalize_server_name("Ｊｏｓé\u00a0 Ｍａｒｉａ") == normalize_server_name("josé maria")
    run_backfill()
    sale.refresh_from_db()
    assert sale.server_id == user.pk


def test_a_second_run_changes_nothing_and_logs_nothing_more(scenario):
    run_backfill(batch_size=2)
    first = snapshot()
    second_run = run_backfill(batch_size=2)
    assert snapshot() == first
    assert second_run.rows_done == 0


@pytest.mark.parametrize("how", ["run again", "resume"])
@pytest.mark.parametrize("k", [0, 2, 5])
def test_an_interrupted_run_ends_like_an_uninterrupted_one(db, monkeypatch, how, k):
    bar = BarFactory()
    users = [member(bar, ServerFactory(username=f"srv{i}")) for i in range(3)]
    for i, user in enumerate(users):
        ServerNameMappingFactory(bar=bar, server_name=f"Server {i}", user=user)
    sales = [SaleFactory(bar=bar, server_name=f"server {i % 4}", created_by=users[i % 2]) for i in range(23)]
    for sale in sales[::5]:
        ReturnFactory(bar=bar, sale=sale)
    original = {sale.pk: None for sale in sales}

    real_write = batches._write_batch
    calls = {"n": 0}

    def write_then_die_in_batch_k_plus_1(cursor, source, params):
        result = real_write(cursor, source, params)  # the batch's writes happen...
        calls["n"] += 1
        if calls["n"] == k + 1:
            raise RuntimeError("worker killed")  # ...and die before the commit
        return result

    monkeypatch.setattr(batches, "_write_batch", write_then_die_in_batch_k_plus_1)
    with pytest.raises(RuntimeError, match="worker killed"):
        run_backfill(batch_size=4)
    interrupted = BackfillRun.objects.get()
    assert interrupted.status == BackfillRun.Status.FAILED
    assert MigrationServerIdLog.objects.count() == 4 * k == interrupted.rows_done  # batch k+1 left no trace
    assert interrupted.last_id == (sales[4 * k - 1].pk if k else 0)

    monkeypatch.setattr(batches, "_write_batch", real_write)
    if how == "resume":
        resume_backfill(run=interrupted)
        assert run_batches(run_id=interrupted.pk).run.status == BackfillRun.Status.FINISHED
    else:
        assert run_backfill(batch_size=4).status == BackfillRun.Status.FINISHED
    after_interruption = snapshot()

    # The same data, backfilled in one go.
    MigrationServerIdLog.objects.all().delete()
    for pk, server_id in original.items():
        Sale.objects.filter(pk=pk).update(server_id=server_id)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE returns SET server_id = NULL")
    BackfillRun.objects.all().delete()
    run_backfill(batch_size=4)
    assert snapshot() == after_interruption
    sale_ids = list(MigrationServerIdLog.objects.exclude(sale_id=None).values_list("sale_id", flat=True))
    assert len(sale_ids) == len(set(sale_ids)) == len(sales)


def test_a_dry_run_writes_nothing_but_counts_what_a_real_run_would_do(scenario):
    before = snapshot()
    dry = run_backfill(dry_run=True, batch_size=2)
    assert snapshot() == before
    assert MigrationServerIdLog.objects.count() == 0
    assert dry.dry_run and dry.status == BackfillRun.Status.FINISHED
    real = run_backfill(batch_size=2)
    assert dry.rows_done == real.rows_done
    # Returns of sales resolved by this very run are counted as unresolved by a dry run (their sale is unchanged).
    assert {k: v for k, v in dry.reason_counts.items() if k != "sale_unresolved"} == {
        k: v for k, v in real.reason_counts.items() if k != "sale_unresolved"
    }


def test_one_bar_mode_touches_only_that_bar(scenario):
    other = BarFactory(name="Other bar")
    server = member(other, ServerFactory(username="other_server"))
    ServerNameMappingFactory(bar=other, server_name="Aïcha", user=server)
    other_sale = SaleFactory(bar=other, server_name="Aïcha")
    run = run_backfill(bar=other)
    other_sale.refresh_from_db()
    scenario.mapped.refresh_from_db()
    assert other_sale.server_id == server.pk
    assert scenario.mapped.server_id is None
    assert set(MigrationServerIdLog.objects.values_list("bar_id", flat=True)) == {other.pk}
    assert run.rows_total == run.rows_done == 1


def test_a_row_that_cannot_be_written_is_logged_as_failed_and_the_rest_of_its_batch_goes_through(scenario):
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_sale() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'sale % is frozen', NEW.id; END $$"
        )
        cursor.execute(
            f"CREATE TRIGGER refuse_one BEFORE UPDATE ON sales FOR EACH ROW "
            f"WHEN (NEW.id = {scenario.mapped.pk}) EXECUTE FUNCTION refuse_sale()"
        )
    run = run_backfill(batch_size=50)
    log = log_of(scenario.mapped)
    assert log.fallback_reason.startswith(FAILED_PREFIX)
    assert "frozen" in log.fallback_reason
    assert (log.fallback_used, log.resolved_server_id) == (True, None)
    scenario.mapped.refresh_from_db()
    scenario.no_name.refresh_from_db()
    assert scenario.mapped.server_id is None
    assert scenario.no_name.server_id == scenario.moussa.pk
    assert run.failed_rows == 1 and run.reason_counts["failed"] == 1
    assert MigrationServerIdLog.objects.filter(sale_id=scenario.mapped.pk).count() == 1


def test_a_batch_that_times_out_is_retried_at_half_size(scenario, monkeypatch, settings):
    settings.BACKFILL_STATEMENT_TIMEOUT_MS = 100
    settings.BACKFILL_MIN_BATCH_SIZE = 2
    real_write = batches._write_batch
    calls = {"n": 0}

    sizes = []

    def slow_first_batch(cursor, source, params):
        calls["n"] += 1
        sizes.append(BackfillRun.objects.get().batch_size)
        if calls["n"] == 1:
            cursor.execute("SELECT pg_sleep(1)")
        return real_write(cursor, source, params)

    monkeypatch.setattr(batches, "_write_batch", slow_first_batch)
    run = run_backfill(batch_size=8)
    assert run.status == BackfillRun.Status.FINISHED
    assert run.timeouts == 1
    assert sizes[:2] == [8, 4]  # the batch after the timeout is half the size
    assert MigrationServerIdLog.objects.count() == run.rows_total


def test_a_halved_batch_grows_back_to_the_configured_size_once_batches_are_quick(scenario, monkeypatch, settings):
    settings.BACKFILL_STATEMENT_TIMEOUT_MS = 60_000  # every real batch is "quick" against this budget
    run = start_backfill(batch_size=4)
    BackfillRun.objects.filter(pk=run.pk).update(batch_size=1)  # as after two timeouts
    sizes = []
    run_batches(run_id=run.pk, max_batches=3, on_batch=lambda r: sizes.append(BackfillRun.objects.get().batch_size))
    assert sizes == [2, 4, 4]  # doubles, never past the configured size


def test_batches_walk_the_primary_key_and_never_rescan_from_the_start(scenario):
    sql = backfill_sql.window_sql(sources.SOURCE_BY_PHASE["sales"], None)
    assert "t.id > %(after)s" in sql and "ORDER BY t.id LIMIT %(size)s" in sql and "OFFSET" not in sql.upper()
    run = start_backfill(batch_size=2)
    run_batches(run_id=run.pk, max_batches=2)
    run.refresh_from_db()
    assert run.phase == "sales" and run.last_id == Sale.objects.order_by("pk").values_list("pk", flat=True)[3]


def test_only_one_run_is_live_at_a_time(scenario):
    start_backfill()
    with pytest.raises(BackfillAlreadyActive):
        start_backfill()
