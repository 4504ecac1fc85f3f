"""The per-bar mappings CSV (``server_name,username``): reading an upload and writing an export. The second
cell may also hold the member's display name, as managers know them (``mappings.services.MemberFinder``).

Reading accepts UTF-8 with or without a BOM, ``,`` or ``;`` between cells (Excel in French locales writes
``;``), an optional header row, blank lines and trailing empty cells. Line numbers are the file's own, so a
manager finds the bad row in their editor.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from adminpanel.csv_export import csv_lines
from adminpanel.spreadsheet import restore_formula

HEADER = ("server_name", "username")
# Header rows a reader skips: the export's own, and what a manager writes when the second column holds names.
HEADERS = {HEADER, ("server_name", "member"), ("server_name", "display_name"), ("server_name", "user")}
# The export defuses formula-like cells with an apostrophe (adminpanel.spreadsheet) and the import removes it
# again, so an exported file opened in Excel runs nothing and re-imports unchanged.


class CsvFileError(Exception):
    """The file as a whole cannot be read (size, encoding, row count, broken quoting)."""


@dataclass(frozen=True)
class CsvRow:
    line: int
    server_name: str
    username: str
    text: str = ""  # the row as the file has it, to show beside an error


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str
    text: str = ""


def check_upload_size(size: int, *, max_bytes: int) -> None:
    """`CsvFileError` with both sizes when an upload is over the limit (checked before reading it)."""
    if size > max_bytes:
        shown, limit = human_size(size), human_size(max_bytes)
        if shown == limit:  # just over: rounding would make the two look equal
            shown, limit = f"{size:,} bytes", f"{limit} ({max_bytes:,} bytes)"
        raise CsvFileError(f"The file ({shown}) is over the {limit} limit. Split it into smaller files.")


def decode_upload(data: bytes, *, max_bytes: int) -> str:
    """The upload as text, or a `CsvFileError` saying why not (too big, not UTF-8, binary)."""
    check_upload_size(len(data), max_bytes=max_bytes)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvFileError(
            f"The file is not UTF-8 text (byte {exc.start + 1} cannot be read). "
            "Save it as “CSV UTF-8” and upload it again."
        ) from exc
    if "\x00" in text:
        raise CsvFileError("The file is not a CSV text file.")
    return text


def human_size(size: int) -> str:
    """5 MB, 5.02 MB, 2.3 KB."""
    for unit, scale, digits in (("MB", 1024 * 1024, 2), ("KB", 1024, 1)):
        if size >= scale:
            return f"{size / scale:.{digits}f}".rstrip("0").rstrip(".") + f" {unit}"
    return f"{size} bytes"


def sniff_delimiter(text: str) -> str:
    """`;` when the first non-blank line has more semicolons than commas, else `,`."""
    for line in text.splitlines():
        if line.strip():
            return ";" if line.count(";") > line.count(",") else ","
    return ","


def unescape_cell(value: str) -> str:
    """A cell as the export wrote it, back to its value (the export's formula defusing undone exactly)."""
    return restore_formula(value.strip())


def read_rows(text: str, *, max_rows: int) -> tuple[list[CsvRow], list[RowError]]:
    """Data rows and malformed rows of a decoded file; `CsvFileError` past `max_rows` or on broken quoting."""
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[CsvRow] = []
    errors: list[RowError] = []
    seen_content = False
    line = 1
    try:
        for cells in reader:
            start, line = line, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if not seen_content:
                seen_content = True
                if tuple(cell.strip().casefold() for cell in cells[:2]) in HEADERS:
                    continue
            while len(cells) > 2 and not cells[-1].strip():
                cells.pop()
            if len(rows) + len(errors) >= max_rows:
                raise CsvFileError(f"The file has more than {max_rows:,} rows; split it into smaller files.")
            if len(cells) != 2:
                errors.append(
                    RowError(
                        start,
                        f"Expected 2 cells (server_name{delimiter}username), found {len(cells)}.",
                        delimiter.join(cells),
                    )
                )
                continue
            rows.append(CsvRow(start, unescape_cell(cells[0]), unescape_cell(cells[1]), delimiter.join(cells)))
    except csv.Error as exc:
        raise CsvFileError(f"Line {line}: the file cannot be read as CSV ({exc}).") from exc
    return rows, errors


def export_lines(mappings: Iterable[tuple[str, str]]) -> Iterator[str]:
    """CSV lines (with a BOM first, for spreadsheets) for (server_name, username) pairs."""
    return csv_lines(list(HEADER), mappings, bom=True)
