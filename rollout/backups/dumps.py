"""Runbook 1.2, the database backup: `pg_dump --format=custom` into BACKUP_DIR, then read back.

The runbook verifies its backup with `pg_restore --validate`, an option pg_restore does not have (it exits with
"unrecognized option"). The panel reads the archive back with `pg_restore --list` instead: that parses the
whole table of contents, so a truncated or foreign file fails, and the data entries it lists prove the BarTender
tables are inside. A backup that cannot be read back fails the step.

pg_dump is run with the panel's own connection settings passed through libpq environment variables (the password
never appears on a command line) and, when it can be found, from the PostgreSQL installation matching the
server's major version: pg_dump refuses to dump a server newer than itself.
"""

import glob
import hashlib
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection
from django.utils import timezone

from adminpanel import db_sessions
from rollout.models import DatabaseBackup, RunbookRun

# The runbook's tables a usable backup must hold data entries for.
# BarTender's tables as Phase 1 finds them (before the runbook's migrations add server_name_mappings); "users" is
# Supabase's auth.users.
REQUIRED_TABLES = ("bars", "bar_members", "sales", "consignments", "returns", "users")
LIBPQ_ENV = {
    "dbname": "PGDATABASE",
    "host": "PGHOST",
    "port": "PGPORT",
    "user": "PGUSER",
    "password": "PGPASSWORD",
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "options": "PGOPTIONS",
    "service": "PGSERVICE",
}
TABLE_DATA_LINE = re.compile(r"^\d+; \d+ \d+ TABLE DATA (\S+) (\S+) ")
DUMPING_LINE = re.compile(r"dumping contents of table \"?([\w.]+)\"?")


class BackupError(Exception):
    """The backup could not be taken or read back; the message says why in words."""


@dataclass(frozen=True)
class ReadBack:
    ok: bool
    toc_entries: int
    tables_with_data: list[str]
    error: str


def server_major_version() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        return int(cursor.fetchone()[0]) // 10000


def server_version() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return cursor.fetchone()[0]


def pg_tool(name: str) -> str:
    """Path of pg_dump / pg_restore: PG_BINDIR, else the installation matching the server, else PATH, else the
    newest /usr/lib/postgresql/*/bin (like bin/dev's pg_bindir)."""
    candidates = []
    if settings.PG_BINDIR:
        candidates.append(Path(settings.PG_BINDIR) / name)
    else:
        candidates.append(Path(f"/usr/lib/postgresql/{server_major_version()}/bin") / name)
        on_path = shutil.which(name)
        if on_path:
            candidates.append(Path(on_path))
        for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True):
            candidates.append(Path(directory) / name)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    where = settings.PG_BINDIR or "PATH and /usr/lib/postgresql/*/bin"
    raise BackupError(f"{name} was not found in {where}: install the PostgreSQL client or set PG_BINDIR.")


def _version_key(path: str) -> int:
    match = re.search(r"/(\d+)/bin$", path)
    return int(match.group(1)) if match else 0


def libpq_environment() -> dict[str, str]:
    """The panel's database connection as libpq environment variables, for pg_dump / pg_restore: the direct one
    (DATABASE_DIRECT_URL) when the main connection goes through a pooler, since both tools need a session."""
    params = db_sessions.direct_connection_params()
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    for param, variable in LIBPQ_ENV.items():
        value = params.get(param)
        if value not in (None, ""):
            env[variable] = str(value)
    return env


def conninfo(dbname: str | None = None) -> str:
    """The panel's database connection as a libpq connection string (another database on the same server when
    `dbname` is given), for connections of its own: the backup's snapshot, creating a scratch database. Direct
    (DATABASE_DIRECT_URL) when that is set: an exported snapshot and CREATE DATABASE want a session of their own."""
    params = db_sessions.direct_connection_params()
    keys = {param: str(params[param]) for param in LIBPQ_ENV if params.get(param) not in (None, "")}
    if dbname:
        keys["dbname"] = dbname
    return psycopg.conninfo.make_conninfo(**keys)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


TABLES_SQL = """
SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname = ANY(%s)
ORDER BY 1, 2
"""
# Order-free: the sum of a 60-bit slice of each row's md5, so a restored table (rows in another physical order)
# gives the same figure. Row text is read in UTC so timestamps compare whatever the session's time zone.
TABLE_CHECKSUM_SQL = (
    "SELECT count(*), coalesce(sum(('x' || left(md5(t::text), 15))::bit(60)::bigint), 0)::text FROM {} AS t"
)


def table_checksums(cursor) -> dict[str, dict]:
    """Every table of BARTENDER_SCHEMAS with its row count and checksum, read by `cursor` inside its transaction
    (one snapshot). Works with a Django cursor and a psycopg one."""
    cursor.execute("SET LOCAL TimeZone = 'UTC'")
    cursor.execute(TABLES_SQL, [list(settings.BARTENDER_SCHEMAS)])
    tables = cursor.fetchall()
    figures = {}
    for schema, table in tables:
        cursor.execute(TABLE_CHECKSUM_SQL.format(f"{quote_ident(schema)}.{quote_ident(table)}"))
        rows, checksum = cursor.fetchone()
        figures[f"{schema}.{table}"] = {"rows": rows, "checksum": checksum}
    return figures


def compare_checksums(expected: dict[str, dict], found: dict[str, dict]) -> list[dict]:
    """Table by table, what the backup holds against what a restore gave back."""
    rows = []
    for table in sorted(set(expected) | set(found)):
        want, got = expected.get(table), found.get(table)
        rows.append({
            "table": table,
            "expected_rows": want["rows"] if want else None,
            "found_rows": got["rows"] if got else None,
            "match": bool(want and got and want == got),
        })  # fmt: skip
    return rows


def backup_directory() -> Path:
    directory = Path(settings.BACKUP_DIR)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tool_version(tool: str) -> str:
    done = subprocess.run([tool, "--version"], capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    return done.stdout.strip()


def read_back(path: Path) -> ReadBack:
    """`pg_restore --list` of the archive: its table-of-contents entries and the tables it holds data for."""
    try:
        done = subprocess.run(  # noqa: S603 (fixed argument list, no shell)
            [pg_tool("pg_restore"), "--list", str(path)], capture_output=True, text=True, timeout=600, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return ReadBack(False, 0, [], f"pg_restore could not run: {exc}")
    if done.returncode != 0:
        message = done.stderr.strip() or f"exit status {done.returncode}"
        return ReadBack(False, 0, [], f"pg_restore --list could not read the archive: {message}")
    entries = [line for line in done.stdout.splitlines() if line and not line.startswith(";")]
    tables = sorted({match.group(2) for line in entries if (match := TABLE_DATA_LINE.match(line))})
    missing = [table for table in REQUIRED_TABLES if table not in tables]
    if missing:
        return ReadBack(
            False, len(entries), tables, f"the archive has no data for {', '.join(missing)}: it is not this database"
        )
    return ReadBack(True, len(entries), tables, "")


def _table_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
            "AND n.nspname NOT LIKE 'pg_toast%%'"
        )
        return max(cursor.fetchone()[0], 1)


def _start_pg_dump(pg_dump: str, *, env: dict, path: Path, snapshot: str) -> subprocess.Popen:
    # pg_dump writes the file itself; restrictive permissions from the start (it holds every password hash).
    old_umask = os.umask(0o077)
    try:
        return subprocess.Popen(  # noqa: S603 (fixed argument list, no shell)
            # A table held by an exclusive lock fails the backup after two minutes instead of hanging it. The backup
            # covers BarTender's schemas, never the panel's own (DESIGN §1): a restore keeps the panel's history.
            [pg_dump, "--format=custom", "--verbose", "--no-password", "--lock-wait-timeout=120000",
             f"--snapshot={snapshot}", f"--exclude-schema={settings.PANEL_SCHEMA}", f"--file={path}"],  # fmt: skip
            env=env,
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
    finally:
        os.umask(old_umask)


def _follow(process: subprocess.Popen, *, tables: int, progress) -> list[str]:
    """Report each table pg_dump dumps; its last lines of output once it exits."""
    dumped, tail = 0, []
    for line in process.stderr:
        tail = (tail + [line.rstrip()])[-20:]
        match = DUMPING_LINE.search(line)
        if match:
            dumped += 1
            progress(min(90, 1 + dumped * 89 // tables), f"dumping table {match.group(1)} ({dumped} of {tables})")
    process.wait()
    return tail


def take_backup(*, run: RunbookRun | None, progress) -> DatabaseBackup:
    """Dump the database into BACKUP_DIR, hash it and read it back; returns the stored backup (verified or not).

    `progress(pct, note)` is called as pg_dump reports each table it dumps. Raises BackupError when pg_dump itself
    fails (the partial file is removed).
    """
    pg_dump = pg_tool("pg_dump")
    directory = backup_directory()
    stamp = timezone.localtime().strftime("%Y%m%d_%H%M%S")
    path = directory / f"bartender_pre_mode_switching_{stamp}_{run.pk if run else 'cmd'}.dump"
    tables = _table_count()
    version = server_version()
    env = libpq_environment()
    database = env.get("PGDATABASE", "")
    progress(1, f"pg_dump of {database} starting ({tables} tables)")
    started = time.perf_counter()
    # The checksums are read in the snapshot pg_dump dumps (exported by a transaction of our own, held open until
    # pg_dump is done): a restore of the archive must give exactly these figures back.
    with psycopg.connect(conninfo(), connect_timeout=10) as holder:
        holder.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        holder.read_only = True
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_export_snapshot()")
            process = _start_pg_dump(pg_dump, env=env, path=path, snapshot=cursor.fetchone()[0])
            try:
                checksums = table_checksums(cursor)
            except psycopg.Error as exc:
                process.kill()
                process.wait()
                path.unlink(missing_ok=True)
                raise BackupError(f"the tables' checksums could not be read: {exc}") from exc
            tail = _follow(process, tables=tables, progress=progress)
    duration_ms = round((time.perf_counter() - started) * 1000)
    if process.returncode != 0 or not path.exists():
        path.unlink(missing_ok=True)
        errors = [line for line in tail if "error" in line.lower()] or tail[-3:]
        raise BackupError(f"pg_dump failed (exit status {process.returncode}): {' '.join(errors)}")
    progress(92, "computing the archive's sha256")
    digest = sha256_of(path)
    progress(95, "reading the archive back with pg_restore --list")
    back = read_back(path)
    return DatabaseBackup.objects.create(
        run=run,
        path=str(path),
        created_by_name=run.requested_by_name if run else "command",
        size_bytes=path.stat().st_size,
        sha256=digest,
        duration_ms=duration_ms,
        server_version=version,
        pg_dump_version=tool_version(pg_dump),
        database=database,
        verified=back.ok,
        toc_entries=back.toc_entries,
        tables_with_data=back.tables_with_data,
        verify_error=back.error,
        checksums=checksums,
    )


def human_size(size: int) -> str:
    """Bytes as a size a person reads: 512 bytes, 12.3 KB, 4.1 MB, 2.0 GB."""
    if size < 1024:
        return f"{size:,} bytes"
    value = float(size)
    for unit in ("KB", "MB", "GB", "TB"):
        value /= 1024
        if value < 1024 or unit == "TB":
            return f"{value:,.1f} {unit}"
    return f"{value:,.1f} TB"
