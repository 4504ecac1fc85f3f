"""Key-based pages for every list of the panel: newest first, no OFFSET, and never an exact COUNT(*) of a
table of millions per page view (DESIGN.md section 6: estimates from ``pg_class.reltuples`` instead).

A cursor that is not one of ours (typed by hand, superscript digits, a NUL byte) is ignored: the list starts
again from its newest rows instead of failing.
"""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime


def estimated_row_counts(tables: list[str]) -> dict[str, int]:
    """Planner estimates (pg_class.reltuples): never an exact COUNT(*) over millions of rows per page view."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, GREATEST(reltuples, 0)::bigint FROM pg_class "
            "WHERE relkind = 'r' AND relname = ANY(%s) AND relnamespace = 'public'::regnamespace",
            [tables],
        )
        found = dict(cursor.fetchall())
    return {table: found.get(table, 0) for table in tables}


@dataclass(frozen=True)
class KeysetPage:
    rows: list
    next_cursor: str | None  # older rows
    prev_cursor: str | None  # newer rows
    is_first: bool


class IdKeyset:
    """Newest first by primary key (the migration log: ids follow insertion)."""

    order = ("-id",)

    @staticmethod
    def cursor_of(row) -> str:
        return str(row.pk)

    @staticmethod
    def older_than(cursor: str) -> Q:
        return Q(pk__lt=int(cursor))

    @staticmethod
    def newer_than(cursor: str) -> Q:
        return Q(pk__gt=int(cursor))

    @staticmethod
    def valid(cursor: str) -> bool:
        return cursor.isascii() and cursor.isdigit() and len(cursor) < 19


class CreatedKeyset:
    """Newest first by (created_at, id): audit logs are reported with their own timestamps."""

    order = ("-created_at", "-id")

    @staticmethod
    def cursor_of(row) -> str:
        return f"{row.created_at.isoformat()}_{row.pk}"

    @staticmethod
    def _split(cursor: str) -> tuple[datetime, int]:
        stamp, _, pk = cursor.rpartition("_")
        return parse_datetime(stamp), int(pk)

    @classmethod
    def older_than(cls, cursor: str) -> Q:
        stamp, pk = cls._split(cursor)
        # The first term lets PostgreSQL bound the index scan on created_at.
        return Q(created_at__lte=stamp) & (Q(created_at__lt=stamp) | Q(pk__lt=pk))

    @classmethod
    def newer_than(cls, cursor: str) -> Q:
        stamp, pk = cls._split(cursor)
        return Q(created_at__gte=stamp) & (Q(created_at__gt=stamp) | Q(pk__gt=pk))

    @classmethod
    def valid(cls, cursor: str) -> bool:
        if not cursor.isascii() or "\x00" in cursor:
            return False
        try:
            stamp, _ = cls._split(cursor)
        except ValueError:
            return False
        return stamp is not None


def keyset_page(queryset: QuerySet, *, keyset, size: int, after: str = "", before: str = "") -> KeysetPage:
    """One page of `queryset` newest first; `after` pages to older rows, `before` back to newer ones."""
    if before and keyset.valid(before):
        reverse = tuple(field[1:] if field.startswith("-") else f"-{field}" for field in keyset.order)
        rows = list(queryset.filter(keyset.newer_than(before)).order_by(*reverse)[: size + 1])
        has_newer = len(rows) > size
        rows = rows[:size][::-1]
        return KeysetPage(
            rows=rows,
            next_cursor=keyset.cursor_of(rows[-1]) if rows else None,
            prev_cursor=keyset.cursor_of(rows[0]) if rows and has_newer else None,
            is_first=not has_newer,
        )
    ordered = queryset.order_by(*keyset.order)
    is_first = not (after and keyset.valid(after))
    if not is_first:
        ordered = ordered.filter(keyset.older_than(after))
    rows = list(ordered[: size + 1])
    has_older = len(rows) > size
    rows = rows[:size]
    return KeysetPage(
        rows=rows,
        next_cursor=keyset.cursor_of(rows[-1]) if rows and has_older else None,
        prev_cursor=keyset.cursor_of(rows[0]) if rows and not is_first else None,
        is_first=is_first,
    )


def keyset_page_context(params, filterset, keyset, *, estimates: dict[str, int], size: int | None = None) -> dict:
    """Template context of a filtered list page: one key page of ``filterset.qs`` for the ``after``/``before``
    cursors in `params` (a QueryDict), the query string without them for the pager, and the row estimates."""
    page = keyset_page(
        filterset.qs,
        keyset=keyset,
        size=size or settings.LOGS_PAGE_SIZE,
        after=params.get("after", ""),
        before=params.get("before", ""),
    )
    query = params.copy()
    for name in ("after", "before"):
        query.pop(name, None)
    return {
        "filter": filterset,
        "page": page,
        "base_query": query.urlencode(),
        "estimates": estimates,
        "filtered": any(v for k, v in params.items() if k not in ("after", "before")),
    }
