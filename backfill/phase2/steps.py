"""The runbook's six migration steps: their files, their verification queries and what those must return."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

DOWN_DIR = Path(__file__).resolve().parent / "down"


def _one_row_named(expected: str) -> Callable[[list[tuple]], bool]:
    return lambda rows: len(rows) == 1 and rows[0][0] == expected


@dataclass(frozen=True)
class Step:
    number: int
    version: str
    name: str
    title: str
    verification_sql: str
    expected: str
    passes: Callable[[list[tuple]], bool]

    @property
    def filename(self) -> str:
        return f"{self.version}_{self.name}.sql"

    def path(self) -> Path:
        return Path(settings.BARTENDER_MIGRATIONS_DIR) / self.filename

    def read(self) -> tuple[str, str]:
        """The file's text and its sha256 (``MigrationFileMissing`` when the checkout lacks it)."""
        path = self.path()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise MigrationFileMissing(f"{self.filename} is not in BARTENDER_MIGRATIONS_DIR ({path.parent})") from None
        return data.decode(), hashlib.sha256(data).hexdigest()

    def down_sql(self) -> str:
        return (DOWN_DIR / f"{self.version}.down.sql").read_text()


class MigrationFileMissing(Exception):
    pass


STEPS = (
    Step(
        1, "20251224130000", "add_server_id_to_sales_consignments_returns",
        "Add server_id to sales, consignments, returns",
        "SELECT column_name FROM information_schema.columns WHERE table_name='sales' AND column_name='server_id'",
        "1 row returned with 'server_id'", _one_row_named("server_id"),
    ),
    Step(
        2, "20251224130100", "add_server_name_mappings_table", "Create server_name_mappings",
        "SELECT COUNT(*) FROM server_name_mappings",
        "0 rows (empty table initially)", lambda rows: rows == [(0,)],
    ),
    Step(
        3, "20251224130300", "add_simplified_mode_sale_creation_policy", "Row Level Security for simplified mode",
        "SELECT COUNT(*) FROM pg_policies WHERE tablename='sales' AND policyname LIKE '%simplified%'",
        "1+ rows", lambda rows: bool(rows) and rows[0][0] >= 1,
    ),
    # The runbook's query reads table_name from information_schema.referential_constraints, which has no such
    # column; the corrected query joins table_constraints for it.
    Step(
        4, "20251224130400", "fix_server_id_foreign_keys_on_delete", "server_id foreign keys ON DELETE SET NULL",
        "SELECT rc.constraint_name, rc.delete_rule FROM information_schema.referential_constraints rc "
        "JOIN information_schema.table_constraints tc "
        "ON tc.constraint_schema = rc.constraint_schema AND tc.constraint_name = rc.constraint_name "
        "WHERE tc.table_name='sales' AND rc.constraint_name LIKE '%server_id%'",
        "ON DELETE SET NULL", lambda rows: bool(rows) and all(row[1] == "SET NULL" for row in rows),
    ),
    Step(
        5, "20251224130500", "add_operating_mode_index", "Index bars by operatingMode",
        "SELECT indexname FROM pg_indexes WHERE tablename='bars' AND indexname LIKE '%operating_mode%'",
        "1 row with 'idx_bars_operating_mode'", _one_row_named("idx_bars_operating_mode"),
    ),
    Step(
        6, "20251224130600", "robust_backfill_server_id", "The backfill's audit log (then the backfill)",
        "SELECT fallback_used, COUNT(*) AS count FROM migration_server_id_log GROUP BY fallback_used",
        "successful mappings + any fallbacks used", lambda rows: True,
    ),
)  # fmt: skip

BY_VERSION = {step.version: step for step in STEPS}
