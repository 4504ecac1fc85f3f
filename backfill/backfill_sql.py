"""The backfill's SQL: the batch window, the resolution CTE, and the write, dry-run and pending statements.

Table and column names below come from :data:`backfill.sources.SOURCES` only, never from input (hence the
file-wide S608 waiver).
"""

# ruff: noqa: S608
from backfill.sources import (
    DIRECT_ROLES,
    FALLBACK_ROLE,
    INACTIVE_MEMBER,
    MAPPING_USER_DELETED,
    NO_SALE,
    NO_SERVER_NAME,
    SALE_UNRESOLVED,
    UNMAPPED_NAME,
    Source,
)
from mappings.names import normalize_server_name


def _bar_filter(alias: str, bar_id) -> str:
    return f" AND {alias}.bar_id = %(bar_id)s" if bar_id else ""


def window_sql(source: Source, bar_id, *, bounded: bool = False) -> str:
    """The batch's upper key and the distinct names to normalise: one indexed walk of `size` keys (inside the
    key range's upper bound `limit` when the range has one)."""
    name = "server_name" if source.has_server_name else "NULL::text"
    limit = " AND t.id <= %(limit)s" if bounded else ""
    return (
        "SELECT max(w.id), array_agg(DISTINCT w.server_name) FILTER (WHERE w.server_id IS NULL) "
        f"FROM (SELECT t.id, t.server_id, {name} AS server_name FROM {source.table} t "
        f"WHERE t.id > %(after)s{limit}{_bar_filter('t', bar_id)} ORDER BY t.id LIMIT %(size)s) w"
    )


def resolution_cte(source: Source, bar_id, *, lock: bool) -> str:
    """`WITH … resolved(id, bar_id, server_name, reason, server_id)` for the rows of one key range."""
    pending = (
        f"SELECT t.id, t.bar_id, {'t.server_name' if source.has_server_name else 't.sale_id'}, t.created_by "
        f"FROM {source.table} t "
        f"WHERE t.id > %(after)s AND t.id <= %(upper)s AND t.server_id IS NULL{_bar_filter('t', bar_id)} "
        f"AND NOT EXISTS (SELECT 1 FROM migration_server_id_log l WHERE l.{source.log_column} = t.id)"
        f"{' FOR UPDATE OF t' if lock else ''}"
    )
    if source.has_server_name:
        direct = f"""
batch(id, bar_id, server_name, created_by) AS ({pending}),
names(raw, norm) AS (SELECT * FROM unnest(%(raw)s::text[], %(norm)s::text[])),
direct AS (
  SELECT b.id, b.bar_id, b.server_name, b.created_by,
         CASE WHEN n.norm IS NULL OR n.norm = '' THEN '{NO_SERVER_NAME}'
              WHEN m.id IS NULL THEN '{UNMAPPED_NAME}'
              WHEN u.id IS NULL OR u.banned_until > now() THEN '{MAPPING_USER_DELETED}'
              WHEN bm.id IS NULL THEN '{INACTIVE_MEMBER}' END AS reason,
         m.user_id AS direct_id
  FROM batch b
  LEFT JOIN names n ON n.raw = b.server_name
  LEFT JOIN server_name_mappings m ON m.bar_id = b.bar_id AND m.normalized_name = n.norm
  LEFT JOIN auth.users u ON u.id = m.user_id
  LEFT JOIN bar_members bm ON bm.bar_id = b.bar_id AND bm.user_id = m.user_id AND bm.is_active
        AND bm.role IN ('{DIRECT_ROLES[0]}', '{DIRECT_ROLES[1]}')
)"""
    else:
        direct = f"""
batch(id, bar_id, sale_id, created_by) AS ({pending}),
direct AS (
  SELECT b.id, b.bar_id, s.server_name, b.created_by,
         CASE WHEN s.id IS NULL THEN '{NO_SALE}' WHEN s.server_id IS NULL THEN '{SALE_UNRESOLVED}' END AS reason,
         s.server_id AS direct_id
  FROM batch b
  LEFT JOIN sales s ON s.id = b.sale_id
)"""
    return f"""WITH {direct.strip()},
resolved AS (
  SELECT d.id, d.bar_id, d.server_name, d.reason,
         CASE WHEN d.reason IS NULL THEN d.direct_id ELSE fu.id END AS server_id
  FROM direct d
  LEFT JOIN bar_members fm ON d.reason IS NOT NULL AND fm.bar_id = d.bar_id AND fm.user_id = d.created_by
        AND fm.is_active AND fm.role = '{FALLBACK_ROLE}'
  LEFT JOIN auth.users fu ON fu.id = fm.user_id AND (fu.banned_until IS NULL OR fu.banned_until <= now())
)"""


def write_sql(source: Source, bar_id) -> str:
    """Resolve one key range, set server_id, log every row; returns (reason, resolved, count) groups."""
    return f"""{resolution_cte(source, bar_id, lock=True)},
updated AS (
  UPDATE {source.table} t SET server_id = r.server_id
  FROM resolved r WHERE t.id = r.id AND r.server_id IS NOT NULL
),
logged AS (
  INSERT INTO migration_server_id_log
    ({source.log_column}, bar_id, server_name, resolved_server_id, fallback_used, fallback_reason, created_at)
  SELECT r.id, r.bar_id, r.server_name, r.server_id, r.reason IS NOT NULL, r.reason, now() FROM resolved r
  ON CONFLICT ({source.log_column}) DO NOTHING
  RETURNING fallback_reason, resolved_server_id IS NOT NULL AS resolved
)
SELECT fallback_reason, resolved, count(*) FROM logged GROUP BY 1, 2"""


def dry_run_sql(source: Source, bar_id) -> str:
    """Resolve one key range read-only; returns the same (reason, resolved, count) groups as `write_sql`."""
    return (
        f"{resolution_cte(source, bar_id, lock=False)}\n"
        "SELECT reason, server_id IS NOT NULL, count(*) FROM resolved GROUP BY 1, 2"
    )


def pending_ids_sql(source: Source, bar_id) -> str:
    """The rows of one key range still to resolve, in key order, for the row-by-row retry."""
    return (
        f"SELECT t.id, t.bar_id, {'t.server_name' if source.has_server_name else 'NULL::text'} "
        f"FROM {source.table} t WHERE t.id > %(after)s AND t.id <= %(upper)s AND t.server_id IS NULL"
        f"{_bar_filter('t', bar_id)} "
        f"AND NOT EXISTS (SELECT 1 FROM migration_server_id_log l WHERE l.{source.log_column} = t.id) ORDER BY t.id"
    )


def pending_count_sql(source: Source, bar_id) -> str:
    """Rows of the table that a run would examine: server_id NULL and no log row yet."""
    return (
        f"SELECT count(*) FROM {source.table} t WHERE t.server_id IS NULL{_bar_filter('t', bar_id)} "
        f"AND NOT EXISTS (SELECT 1 FROM migration_server_id_log l WHERE l.{source.log_column} = t.id)"
    )


def key_span_sql(source: Source, bar_id) -> str:
    """The lowest and highest key after `after`, which `ranges.split_ranges` divides into key ranges."""
    return f"SELECT min(t.id), max(t.id) FROM {source.table} t WHERE t.id > %(after)s{_bar_filter('t', bar_id)}"


def normalised_names(raw_names) -> tuple[list[str], list[str]]:
    """The batch's distinct typed names and their normal forms (Python's normalisation, the only one)."""
    raw = [name for name in (raw_names or []) if name is not None]
    return raw, [normalize_server_name(name) for name in raw]
