"""The migration log's summary kept by the panel's triggers gives the runbook's figures, whatever writes the log."""

import pytest
from django.db import connection

from adminpanel import runbook_sql
from adminpanel.models import MigrationServerIdLog
from adminpanel.panel_schema import quoted_schema, refresh_panel_support, support_current
from backfill import selectors
from tests.backfill.test_migration_log import make_logs
from tests.factories import BarFactory, ServerFactory

pytestmark = pytest.mark.django_db


def runbook_figures():
    """The figures as the runbook's SQL (and the validation's breakdown) count them from every row."""
    with connection.cursor() as cursor:
        cursor.execute(runbook_sql.RCA_FALLBACKS_BY_REASON)
        by_reason = {reason: (count, sorted(str(b) for b in bars)) for reason, count, bars in cursor.fetchall()}
        cursor.execute(runbook_sql.STEP6_BACKFILL_RESULTS)
        results = dict(cursor.fetchall())
        totals = selectors.log_totals(cursor)
    return by_reason, results, totals


def summary_figures():
    summary = selectors.migration_summary(bars_per_reason=100)
    with connection.cursor() as cursor:
        cursor.execute(selectors.SUMMARY_BY_REASON)
        by_reason = {reason: (count, sorted(str(b) for b in bars)) for reason, count, bars in cursor.fetchall()}
    assert {s.reason: s.count for s in summary.by_reason} == {r: c for r, (c, _) in by_reason.items()}
    return by_reason, dict(summary.results), selectors.log_totals()


def assert_same():
    expected = runbook_figures()
    assert summary_figures()[0] == expected[0]
    assert summary_figures()[1] == expected[1]
    got = summary_figures()[2]
    assert (got.examined, got.by_mapping, got.fallback_used, got.by_fallback, got.left_null, got.failed) == (
        expected[2].examined,
        expected[2].by_mapping,
        expected[2].fallback_used,
        expected[2].by_fallback,
        expected[2].left_null,
        expected[2].failed,
    )
    return expected


def test_inserts_updates_deletes_and_truncate_keep_the_runbooks_figures(bar):
    other = BarFactory(name="Bar Two")
    server = ServerFactory()
    make_logs(bar, 12)
    make_logs(other, 7, start=100)
    MigrationServerIdLog.objects.create(sale_id=500, bar=None, fallback_used=True, fallback_reason="failed: gone")
    by_reason, results, totals = assert_same()
    assert results == {False: 4, True: 16} and totals.failed == 1 and "None" in by_reason["failed: gone"][1]

    # The backfill resolving rows later, a reason changed, rows moved between bars: "minus old, plus new".
    MigrationServerIdLog.objects.filter(bar=bar, fallback_reason="unmapped_name").update(resolved_server_id=server.pk)
    MigrationServerIdLog.objects.filter(bar=other, fallback_reason="inactive_member").update(
        fallback_reason="no_server_name"
    )
    MigrationServerIdLog.objects.filter(sale_id__in=[100, 101]).update(bar=bar)
    assert assert_same()[2].by_fallback == 3

    MigrationServerIdLog.objects.filter(bar=other).delete()
    by_reason, results, totals = assert_same()
    assert totals.examined == 12 + 2 + 1

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE migration_server_id_log")
    by_reason, results, totals = assert_same()
    assert totals.examined == 0 and results == {} and by_reason == {}
    assert selectors.migration_summary().by_bar == []


def test_an_older_copy_of_the_support_sql_is_replaced_with_its_summary_filled(bar):
    make_logs(bar, 9)
    with connection.cursor() as cursor:  # what a copy from before the summary looks like
        cursor.execute("DROP TABLE migration_log_summary CASCADE")
    assert not support_current()
    assert refresh_panel_support() is True
    assert support_current() and refresh_panel_support() is False
    assert assert_same()[1] == {False: 2, True: 7}


def test_a_copy_from_before_the_coverage_split_is_replaced_too(bar):
    with connection.cursor() as cursor:  # what the copy with the summary but before the per-day counts looks like
        cursor.execute("DROP TABLE server_id_day_counts CASCADE")
    assert not support_current()
    assert refresh_panel_support() is True
    assert support_current()


def test_a_copy_with_another_version_is_replaced(bar):
    with connection.cursor() as cursor:  # a copy whose functions changed since: its version answers another number
        cursor.execute(
            f"CREATE OR REPLACE FUNCTION {quoted_schema()}.panel_support_version() RETURNS integer LANGUAGE sql "
            "AS 'SELECT 1'"
        )
    assert not support_current()
    assert refresh_panel_support() is True
    assert support_current() and refresh_panel_support() is False
