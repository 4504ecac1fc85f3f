"""Runbook 1.2: a real pg_dump of the test database, read back with pg_restore --list; an unreadable one fails."""

import stat

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from adminpanel.models import PanelEvent
from rollout.backups import dumps
from rollout.models import DatabaseBackup, EventKind, RolloutEvent, RunbookRun, RunbookStep
from rollout.runbook import runs

pytestmark = pytest.mark.runs_phase1


def take(actor):
    run = runs.request_run(actor=actor, step=RunbookStep.BACKUP)
    return runs.execute_run(run_id=run.pk)


def test_a_backup_of_the_database_is_written_read_back_and_stored(owner, backup_dir):
    run = take(owner)
    assert run.status == RunbookRun.Status.PASSED, run.summary
    backup = DatabaseBackup.objects.get(run=run)
    path = backup_dir / backup.file_name
    assert backup.verified and path.exists() and backup.path == str(path)
    assert backup.size_bytes == path.stat().st_size > 0
    assert backup.sha256 == dumps.sha256_of(path) and len(backup.sha256) == 64
    assert backup.server_version and backup.pg_dump_version.startswith("pg_dump (PostgreSQL)")
    assert backup.duration_ms >= 0 and backup.toc_entries > 20
    assert {"sales", "bars", "users", "server_name_mappings"} <= set(backup.tables_with_data)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # Read back independently: the archive's table of contents names the runbook's tables.
    again = dumps.read_back(path)
    assert again.ok and again.toc_entries == backup.toc_entries
    assert backup.file_name in run.summary and "pg_restore --list" in run.summary


def test_a_backup_that_cannot_be_read_back_fails_the_step(owner, backup_dir, tmp_path, settings):
    """A pg_dump that writes something pg_restore cannot read: the step fails and says why."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    real_restore = dumps.pg_tool("pg_restore")
    (bindir / "pg_restore").symlink_to(real_restore)
    fake_dump = bindir / "pg_dump"
    fake_dump.write_text(
        '#!/bin/sh\nfor a in "$@"; do case "$a" in --file=*) printf "not an archive" > "${a#--file=}";; '
        '--version) echo "pg_dump (PostgreSQL) 15";; esac; done\n'
    )
    fake_dump.chmod(0o755)
    settings.PG_BINDIR = str(bindir)
    run = take(owner)
    assert run.status == RunbookRun.Status.FAILED
    backup = DatabaseBackup.objects.get(run=run)
    assert not backup.verified and "pg_restore --list could not read the archive" in backup.verify_error
    assert "could not be read back" in run.summary


def test_a_truncated_archive_is_refused_on_reading_back(owner, backup_dir):
    run = take(owner)
    path = backup_dir / DatabaseBackup.objects.get(run=run).file_name
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(size // 3)
    assert not dumps.read_back(path).ok


def test_a_failing_pg_dump_fails_the_step_and_leaves_no_file(owner, backup_dir, tmp_path, settings):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake_dump = bindir / "pg_dump"
    fake_dump.write_text("#!/bin/sh\necho 'pg_dump: error: connection refused' >&2\nexit 1\n")
    fake_dump.chmod(0o755)
    settings.PG_BINDIR = str(bindir)
    run = take(owner)
    assert run.status == RunbookRun.Status.FAILED and "pg_dump failed" in run.summary
    assert "connection refused" in run.summary
    assert not DatabaseBackup.objects.exists() and not any(backup_dir.glob("*.dump"))


def test_the_command_takes_a_backup_and_the_run_is_audited(backup_dir, capsys):
    call_command("backup_database")
    out = capsys.readouterr().out
    run = RunbookRun.objects.get(step=RunbookStep.BACKUP)
    assert run.status == RunbookRun.Status.PASSED and run.via == "command"
    assert "read back with pg_restore --list" in out and "dumping table" in out
    assert RolloutEvent.objects.filter(kind=EventKind.RUNBOOK).count() == 2  # asked for, and its result
    assert PanelEvent.objects.filter(action="rollout.runbook", target_id=str(run.pk)).count() == 2


def test_the_command_exits_non_zero_when_the_backup_fails(settings, tmp_path):
    settings.PG_BINDIR = str(tmp_path / "nowhere")
    with pytest.raises(CommandError, match="pg_dump was not found"):
        call_command("backup_database")


def test_the_backups_page_lists_them_for_readers_only(client_for, owner, support_user, manager, backup_dir):
    run = take(owner)
    backup = DatabaseBackup.objects.get(run=run)
    page = client_for(support_user).get(reverse("rollout:backups")).content.decode()
    assert backup.sha256 in page and backup.file_name in page and "readable" in page
    assert client_for(manager).get(reverse("rollout:backups")).status_code == 403


def test_pg_dump_gets_the_panels_connection_from_the_environment_only(monkeypatch, db):
    """The connection goes to pg_dump as libpq variables (never as arguments), and stray PG* variables of the
    panel's own environment cannot point it at another database."""
    monkeypatch.setenv("PGDATABASE", "some_other_database")
    monkeypatch.setenv("PGSERVICEFILE", "elsewhere.conf")
    env = dumps.libpq_environment()
    assert env["PGDATABASE"].startswith("test_") and env["PGPORT"] and "PGSERVICEFILE" not in env
