"""The archive a restore reads: the backup it may use, pg_restore, scratch databases and table checksums."""

import contextlib
import logging
import re
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection

from adminpanel.panel_schema import support_triggers
from rollout.backups import dumps
from rollout.errors import RolloutError
from rollout.models import DatabaseBackup

logger = logging.getLogger(__name__)


class RestoreRefused(RolloutError):
    """The restore may not run now; the message says why and what to do."""


class RestoreFailed(Exception):
    """pg_restore or the scratch database failed; the message says so in words."""


# --- The archive -------------------------------------------------------------------------------------------
def usable_backup(backup_id: int | None = None) -> DatabaseBackup:
    """The backup to restore (the latest verified one unless named), its file present and unchanged since it was
    taken, with the checksums a restore is compared with."""
    backups_ = DatabaseBackup.objects.filter(verified=True)
    backup = backups_.filter(pk=backup_id).first() if backup_id else backups_.first()
    if backup is None:
        raise RestoreRefused("There is no verified backup: take the Phase 1 backup (runbook 1.2) first.")
    path = Path(backup.path)
    if not path.is_file():
        raise RestoreRefused(f"The archive {backup.file_name} is no longer in {path.parent}: take a new backup.")
    if dumps.sha256_of(path) != backup.sha256:
        raise RestoreRefused(
            f"The archive {backup.file_name} has changed since it was taken (its sha256 is not "
            f"{backup.sha256[:12]}…): it cannot be trusted; take a new backup."
        )
    if not backup.checksums:
        raise RestoreRefused(
            f"Backup {backup.file_name} was taken before the panel recorded each table's checksum: there is "
            "nothing to compare a restore with. Take a new backup."
        )
    return backup


TRIGGER_LINE = re.compile(r"^\d+; \d+ \d+ TRIGGER \S+ \S+ (\S+) ")


def _table_of_contents(path: str, directory: str) -> str:
    """The archive's table of contents without the panel's own triggers on the product's tables (they call the
    panel's schema, which a product restore neither holds nor replaces); the file pg_restore --use-list reads."""
    try:
        done = subprocess.run(  # noqa: S603 (fixed argument list, no shell)
            [dumps.pg_tool("pg_restore"), "--list", path], capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise RestoreFailed(f"pg_restore --list could not run: {exc}") from exc
    if done.returncode != 0:
        raise RestoreFailed(f"pg_restore --list could not read the archive: {done.stderr.strip()}")
    panel = support_triggers()
    kept = [line for line in done.stdout.splitlines()
            if not ((match := TRIGGER_LINE.match(line)) and match.group(1) in panel)]  # fmt: skip
    listing = Path(directory) / "toc.list"
    listing.write_text("\n".join(kept) + "\n")
    return str(listing)


def pg_restore(backup: DatabaseBackup, *, database: str, clean: bool) -> int:
    """Restore the archive into `database` in one transaction (all or nothing); milliseconds taken.

    Into a scratch database: the whole archive, without owners and comments (a scratch copy need not own what it
    holds). In place (`clean`): only BARTENDER_SCHEMAS' objects, dropped and recreated with their owners."""
    env = dumps.libpq_environment()
    env.pop("PGDATABASE", None)
    if clean:
        options = ["--clean", "--if-exists", *[f"--schema={schema}" for schema in settings.BARTENDER_SCHEMAS]]
    else:
        options = ["--no-owner", "--no-comments"]
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="restore-") as directory:
        command = [
            dumps.pg_tool("pg_restore"), "--exit-on-error", "--single-transaction", "--no-password",
            f"--dbname={database}", f"--use-list={_table_of_contents(backup.path, directory)}", *options, backup.path,
        ]  # fmt: skip
        try:
            done = subprocess.run(  # noqa: S603 (fixed argument list, no shell)
                command, env=env, capture_output=True, text=True, timeout=settings.RESTORE_TIMEOUT_SECONDS,
                check=False,
            )  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise RestoreFailed(f"pg_restore could not finish: {exc}") from exc
    if done.returncode != 0:
        errors = [line for line in done.stderr.splitlines() if "error" in line.lower()] or done.stderr.splitlines()
        raise RestoreFailed(f"pg_restore failed (exit status {done.returncode}): {' '.join(errors[:3])}")
    return round((time.monotonic() - started) * 1000)


def scratch_name() -> str:
    """The scratch database's name (SCRATCH_DATABASE, else the panel's database name + "_scratch")."""
    return (settings.SCRATCH_DATABASE or f"{connection.settings_dict['NAME']}_scratch")[:63]


def _admin(statement: str) -> None:
    try:
        with psycopg.connect(dumps.conninfo(), autocommit=True, connect_timeout=10) as admin:
            admin.execute(statement)
    except psycopg.Error as exc:
        raise RestoreFailed(f"{statement.split(' ')[0].title()} of the scratch database failed: {exc}") from exc


@contextlib.contextmanager
def scratch_database():
    """A fresh, empty scratch database on the panel's server, dropped afterwards whatever happened; yields its
    name."""
    name = scratch_name()
    quoted = dumps.quote_ident(name)
    _admin(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    _admin(f"CREATE DATABASE {quoted}")
    try:
        yield name
    finally:
        try:
            _admin(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
        except RestoreFailed:
            logger.exception("The scratch database %s could not be dropped", name)


def connect(dbname: str | None = None) -> psycopg.Connection:
    """A connection of its own (autocommit: each runner step opens its own transaction), outside Django's, binding
    parameters on the client as Django does (SET LOCAL takes no server-side parameter)."""
    try:
        return psycopg.connect(
            dumps.conninfo(dbname), autocommit=True, connect_timeout=10, cursor_factory=psycopg.ClientCursor
        )
    except psycopg.Error as exc:
        raise RestoreFailed(f"The database {dbname or 'of the panel'} cannot be reached: {exc}") from exc


def checksums_of(dbname: str | None = None) -> dict[str, dict]:
    """Every BarTender table's figures in `dbname` (default: the panel's database), in one snapshot."""
    with connect(dbname) as conn, conn.transaction(), conn.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return dumps.table_checksums(cursor)
