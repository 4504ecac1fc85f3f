"""Streamed CSV downloads: rows are written as they are read, so an export of a million rows never sits in
memory; every cell is defused so a spreadsheet never runs it as a formula."""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.conf import settings
from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone

from adminpanel.paging import keyset_page
from adminpanel.spreadsheet import defuse_formula


class _Echo:
    """A file-like object whose write returns the line, so csv.writer produces strings to stream."""

    def write(self, value):
        return value


def csv_safe(value) -> str:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading apostrophe."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return defuse_formula(text)


def csv_lines(header: list[str], rows: Iterable[Iterable], *, bom: bool = False) -> Iterator[str]:
    """The CSV text of `header` and `rows`, one line at a time, each cell made safe."""
    writer = csv.writer(_Echo(), lineterminator="\r\n")
    yield ("\ufeff" if bom else "") + writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_safe(value) for value in row])


def keyset_rows(queryset: QuerySet, *, keyset, row_values, chunk: int | None = None) -> Iterator[list]:
    """`row_values(row)` for every row of `queryset`, fetched in key-ordered chunks (no long cursor, no OFFSET)."""
    chunk = chunk or settings.LOGS_EXPORT_CHUNK_ROWS
    cursor = ""
    while True:
        page = keyset_page(queryset, keyset=keyset, size=chunk, after=cursor)
        for row in page.rows:
            yield row_values(row)
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def stream_csv(queryset: QuerySet, *, keyset, header: list[str], row_values, chunk: int | None = None) -> Iterator:
    """CSV lines for every row of `queryset`, fetched in keyset chunks."""
    return csv_lines(header, keyset_rows(queryset, keyset=keyset, row_values=row_values, chunk=chunk))


def csv_response(lines: Iterable[str], *, prefix: str) -> StreamingHttpResponse:
    """A streamed download named `<prefix>-<timestamp>.csv`, never cached."""
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="{prefix}-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
