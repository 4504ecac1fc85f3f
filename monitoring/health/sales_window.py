"""Sales in a time window, flat in the table's size (issue 15, DESIGN.md section 8): per-minute counts kept by
triggers on sales (an insert appends to ``sales_minute_rollup_log``, which each health run folds into
``sales_minute_rollup``: :func:`compact_sales_rollup`), plus the partial minutes at both ends counted from the rows
(:func:`sales_in_window`). The coverage and error-rate checks count their windows here."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection

from monitoring.health.check_base import fetchone as _fetchone

MINUTE = timedelta(minutes=1)
# The rollup (adminpanel migration 0014) counts only writes to sales created within 48 hours of the writing
# transaction's start; a minute younger than this, measured on the database's clock, has missed no write.
ROLLUP_TRUSTED = timedelta(hours=47)

# The first whole minute of the window the rollup can vouch for: the window's own, or the trusted horizon's.
_LO = (
    "GREATEST(%(lo)s::timestamptz, date_bin(interval '1 minute', statement_timestamp() - %(trusted)s::interval, "
    "timestamptz '2000-01-01 00:00:00+00') + interval '1 minute')"
)
# Each part gives (sales, with server_id, counted, counted with server_id, counted as history). Counted (the coverage
# checks' sample, DESIGN §4d): the backfilled history, i.e. minutes before %(history)s (every sale), and after it
# the sales written while their bar's flags were on (the rollup's `flagged` columns; rows read directly are
# classed by the flags now, bar_flags_on in panel_support.sql).
_ROWS = """
  SELECT count(*), count(server_id), count(*) FILTER (WHERE c), count(server_id) FILTER (WHERE c),
         count(*) FILTER (WHERE created_at < %(history)s::timestamptz)
  FROM (SELECT server_id, created_at, (created_at < %(history)s::timestamptz OR bar_flags_on(bar_id)) AS c
        FROM sales WHERE {where}) AS edge
"""
SALES_IN_WINDOW = f"""
SELECT sum(n)::bigint, sum(s)::bigint, sum(cn)::bigint, sum(cs)::bigint, sum(hn)::bigint FROM (
  SELECT coalesce(sum(sales), 0) AS n, coalesce(sum(with_server_id), 0) AS s,
         coalesce(sum(CASE WHEN minute < %(history)s::timestamptz THEN sales ELSE flagged END), 0) AS cn,
         coalesce(sum(CASE WHEN minute < %(history)s::timestamptz THEN with_server_id
                           ELSE flagged_with_server_id END), 0) AS cs,
         coalesce(sum(sales) FILTER (WHERE minute < %(history)s::timestamptz), 0) AS hn
  FROM sales_minute_counts WHERE minute >= {_LO} AND minute < %(hi)s
  UNION ALL
  {_ROWS.format(where=f"created_at > %(since)s AND created_at < {_LO} AND created_at <= %(until)s")}
  UNION ALL
  {_ROWS.format(where=f"created_at >= GREATEST(%(hi)s, {_LO}) AND created_at <= %(until)s")}
) AS parts
"""  # noqa: S608 (constants)


@dataclass(frozen=True)
class WindowCounts:
    """Sales of a window: all of them, and those the coverage checks count (history + written with flags on)."""

    sales: int
    with_server_id: int
    counted: int
    counted_with_server_id: int
    history: int


def _minute_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(second=0, microsecond=0)


def window_counts(since: datetime, until: datetime, *, history_before: datetime | None = None) -> WindowCounts:
    """The sales created in ``(since, until]``, in one statement (one snapshot, so the rollup and the rows agree): the
    whole minutes inside the window are summed from ``sales_minute_counts`` (kept by triggers on sales,
    panel_support.sql), the partial minutes at both ends are counted from ``sales``, so at most two minutes of rows
    are read whatever the window or the table's size. Minutes older than ``ROLLUP_TRUSTED`` on the database's clock,
    which the rollup cannot vouch for, are counted from ``sales``: the window ``(since, lo)`` then stretches up to
    ``until`` and ``[max(hi, lo), until]`` is empty or disjoint. ``history_before`` (a whole minute) starts what is
    not the backfilled history."""
    params = {
        "lo": _minute_floor(since) + MINUTE,
        "hi": _minute_floor(until),
        "since": since,
        "until": until,
        "trusted": ROLLUP_TRUSTED,
        "history": history_before or "-infinity",
    }
    return WindowCounts(*_fetchone(SALES_IN_WINDOW, params))


def sales_in_window(since: datetime, until: datetime) -> tuple[int, int]:
    """(sales, sales with a server_id) created in ``(since, until]`` (see :func:`window_counts`)."""
    counts = window_counts(since, until)
    return counts.sales, counts.with_server_id


# One statement: the log rows this snapshot sees leave the log and are added to the rollup's compaction slot (-1,
# never a writer's), so each is counted in exactly one of the two tables whatever runs beside it; a sale committed
# meanwhile stays in the log for the next run. Inserting tills never wait for it (they only append).
COMPACT_SALES_ROLLUP = """
WITH moved AS (DELETE FROM sales_minute_rollup_log RETURNING minute, sales, with_server_id, flagged,
                                                               flagged_with_server_id),
     folded AS (
       INSERT INTO sales_minute_rollup AS r (minute, slot, sales, with_server_id, flagged, flagged_with_server_id)
       SELECT minute, -1, sum(sales), sum(with_server_id), sum(flagged), sum(flagged_with_server_id)
       FROM moved GROUP BY minute
       ON CONFLICT (minute, slot) DO UPDATE
         SET sales = r.sales + excluded.sales, with_server_id = r.with_server_id + excluded.with_server_id,
             flagged = r.flagged + excluded.flagged,
             flagged_with_server_id = r.flagged_with_server_id + excluded.flagged_with_server_id
       RETURNING 1)
SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM folded)
"""


def compact_sales_rollup() -> int:
    """Fold the inserts' log (one row per sale, adminpanel migration 0016) into the per-minute rollup, so the
    checks read a few rows per minute; returns the log rows folded."""
    with connection.cursor() as cursor:
        cursor.execute(COMPACT_SALES_ROLLUP)
        return cursor.fetchone()[0]


def prune_sales_rollup() -> int:
    """Drop the rollup's minutes no check trusts any more (older than ``ROLLUP_TRUSTED``, on the database's clock);
    a late write may bring one back, which no check reads either. Returns the rows dropped. (The log is folded at
    the start of each health run, :func:`compact_sales_rollup`; its old minutes are dropped once folded.)"""
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM sales_minute_rollup WHERE minute < statement_timestamp() - %s::interval", [ROLLUP_TRUSTED]
        )
        return cursor.rowcount
