"""The runbook steps the panel runs itself: asking for a run, running it with progress, waivers, and the CI record.

A run is asked for (permission, preconditions and one-at-a-time checked, audited), handed to a Celery task
(rollout/tasks.py) or a management command, and executed here: claimed once (a redelivered task finds it taken),
its progress written as it goes (the cockpit polls it), its outcome stored with the evidence, audited again. Every
request, result and waiver is a "Runbook step" event on the rollout timeline and a row in panel_events.
"""

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from adminpanel.roles import can_operate
from rollout import permissions
from rollout.backups import dumps
from rollout.errors import InvalidRequest, NotAllowed
from rollout.events.services import _record
from rollout.models import EventKind, RunbookRun, RunbookStep
from rollout.runbook import load_test, phase1, phase3
from rollout.runbook.phase1 import Outcome, StepRefused
from rollout.runbook.steps import EXECUTED, STEP_SPECS

logger = logging.getLogger(__name__)


REASON_MAX = 2000


class StepAlreadyRunning(InvalidRequest):
    pass


# --- Reading runs --------------------------------------------------------------------------------------------
def stalled_after() -> timedelta:
    """How long a queued or running run may go without news before it counts as stalled."""
    return timedelta(seconds=settings.RUNBOOK_STALLED_AFTER_SECONDS)


def is_stalled(run: RunbookRun, *, now=None) -> bool:
    """A queued run no worker took, or a running one whose heartbeat stopped, for longer than the setting."""
    if not run.is_active:
        return False
    now = now or timezone.now()
    last = run.heartbeat_at or run.started_at or run.created_at
    return now - last > stalled_after()


def _stale_active_runs(step: str, now):
    limit = now - stalled_after()
    return RunbookRun.objects.filter(step=step, status__in=RunbookRun.ACTIVE).filter(
        Q(heartbeat_at__lt=limit) | Q(heartbeat_at__isnull=True, started_at__lt=limit)
        | Q(heartbeat_at__isnull=True, started_at__isnull=True, created_at__lt=limit)
    )  # fmt: skip


# --- Asking for a run ----------------------------------------------------------------------------------------
def _check_actor(actor, via: str) -> None:
    # Commands run on the server by someone with a shell there; the panel asks the role.
    if via == "panel" and not (actor is not None and can_operate(actor)):
        raise NotAllowed("Only product owners run runbook steps.")


def _clean_parameters(step: str, parameters: dict) -> dict:
    if step == RunbookStep.LOAD_TEST:
        try:
            rate = int(settings.LOAD_TEST_RATE if parameters.get("rate") is None else parameters["rate"])
            seconds = int(settings.LOAD_TEST_SECONDS if parameters.get("seconds") is None else parameters["seconds"])
        except (TypeError, ValueError) as exc:
            raise StepRefused("The rate and the duration must be whole numbers.") from exc
        try:
            load_test.check_may_run(rate=rate, seconds=seconds)
        except load_test.LoadTestRefused as exc:
            raise StepRefused(str(exc)) from exc
        return {"rate": rate, "seconds": seconds}
    if step == RunbookStep.DEPLOY_CHECK:
        return {"build_hash": phase3.clean_build_hash(parameters.get("build_hash", "")), "url": phase3.health_url()}
    return {}


def request_run(*, actor, step: str, parameters: dict | None = None, confirm: bool = False, via: str = "panel"):
    """Record a queued run of `step` after checking who asks, its preconditions and that none is running; audited.

    The caller hands it to a worker (rollout.tasks.enqueue_run) or runs it (execute_run). Raises NotAllowed,
    StepRefused or StepAlreadyRunning, each with a message for the person, and then nothing has changed.
    """
    if step not in EXECUTED:
        raise InvalidRequest(f"{step!r} is not a step the panel runs.")
    _check_actor(actor, via)
    spec = STEP_SPECS[step]
    if spec.confirm and not confirm:
        raise StepRefused(f"{spec.title}: tick the confirmation first. ({spec.confirm})")
    if step == RunbookStep.ROLLBACK_REHEARSAL:
        phase1.check_rehearsal_allowed(actor)
    cleaned = _clean_parameters(step, parameters or {})
    now = timezone.now()
    try:
        with transaction.atomic():
            stale = list(_stale_active_runs(step, now).select_for_update())
            for old in stale:
                old.status, old.finished_at = RunbookRun.Status.FAILED, now
                old.error = "Stalled: no progress for too long (worker lost?); replaced by a new run."
                old.save(update_fields=["status", "finished_at", "error"])
            run = RunbookRun.objects.create(
                step=step,
                requested_by=actor if getattr(actor, "pk", None) else None,
                requested_by_name=getattr(actor, "username", None) or via,
                via=via,
                parameters=cleaned,
                created_at=now,
            )
            _record(
                kind=EventKind.RUNBOOK, actor=actor, target=run,
                after={"run": run.pk, "step": step, "status": run.status, "parameters": cleaned,
                       "summary": f"{spec.title} asked for", "replaced_stalled": [old.pk for old in stale]},
            )  # fmt: skip
    except IntegrityError as exc:
        raise StepAlreadyRunning(f"{spec.title} is already running: wait for its result.") from exc
    return run


def mark_unqueued(*, run_id: int, error: str) -> RunbookRun:
    """The task broker could not take the run: it fails at once, saying what to do instead."""
    spec_command = STEP_SPECS[RunbookRun.objects.get(pk=run_id).step].command
    message = f"{error} Nothing ran. Start the worker and ask again, or run `{spec_command}` on the server."
    return _finish(run_id, Outcome(False, message, {}), error=message, only_from=(RunbookRun.Status.QUEUED,))


# --- Running it ----------------------------------------------------------------------------------------------
class Progress:
    """Writes a run's progress and heartbeat (at most twice a second; the first and the last always)."""

    def __init__(self, run_id: int, echo: Callable[[int, str], None] | None = None):
        self.run_id, self.echo, self.last = run_id, echo, 0.0

    def __call__(self, pct: int, note: str) -> None:
        now = time.monotonic()
        if self.echo:
            self.echo(pct, note)
        if now - self.last < 0.5 and pct < 100:
            return
        self.last = now
        RunbookRun.objects.filter(pk=self.run_id, status=RunbookRun.Status.RUNNING).update(
            progress=max(0, min(100, int(pct))), progress_note=note[:300], heartbeat_at=timezone.now()
        )


def execute_run(
    *, run_id: int, echo: Callable[[int, str], None] | None = None, sleep: Callable[[float], None] = time.sleep
) -> RunbookRun | None:
    """Claim a queued run and do it; None when it was not queued any more (a redelivered or repeated task)."""
    now = timezone.now()
    claimed = RunbookRun.objects.filter(pk=run_id, status=RunbookRun.Status.QUEUED).update(
        status=RunbookRun.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    if not claimed:
        return None
    run = RunbookRun.objects.select_related("requested_by").get(pk=run_id)
    progress = Progress(run.pk, echo)
    heartbeat = Heartbeat(run.pk)
    try:
        outcome = _perform(run, progress, sleep)
    except (StepRefused, dumps.BackupError, load_test.LoadTestRefused, NotAllowed, InvalidRequest) as exc:
        return _finish(run.pk, Outcome(False, str(exc), {}), error=str(exc))
    except Exception as exc:  # noqa: BLE001 (stored as the run's failure; the worker carries on)
        logger.exception("runbook run %s (%s) failed", run.pk, run.step)
        message = f"{type(exc).__name__}: {exc}".strip()
        return _finish(run.pk, Outcome(False, f"Failed: {message}", {}), error=message)
    finally:
        heartbeat.stop()
    return _finish(run.pk, outcome)


class Heartbeat:
    """Keeps a run's heartbeat fresh from a thread of its own while a long stretch reports no progress (pg_dump of
    one big table), so a working run is never taken for a stalled one. Its own database connection is closed."""

    def __init__(self, run_id: int, every: float | None = None):
        self.run_id = run_id
        self.every = every or max(5.0, settings.RUNBOOK_STALLED_AFTER_SECONDS / 4)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"runbook-heartbeat-{run_id}", daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        try:
            while not self.stopped.wait(self.every):
                RunbookRun.objects.filter(pk=self.run_id, status=RunbookRun.Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        except Exception:  # noqa: BLE001 (a missed heartbeat only makes the run look stalled sooner)
            logger.warning("runbook run %s: heartbeat failed", self.run_id, exc_info=True)
        finally:
            connections.close_all()

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=5)


def _perform(run: RunbookRun, progress: Progress, sleep) -> Outcome:
    actor = run.requested_by
    if run.step == RunbookStep.BACKUP:
        backup = dumps.take_backup(run=run, progress=progress)
        return _backup_outcome(backup)
    if run.step == RunbookStep.FLAGS_OFF:
        progress(50, "reading both flags and their allow-lists")
        return phase1.verify_flags_off()
    if run.step == RunbookStep.LOAD_TEST:
        result = load_test.run_load_test(
            rate=run.parameters["rate"], seconds=run.parameters["seconds"], progress=progress, sleep=sleep
        )
        return _load_test_outcome(result)
    if run.step == RunbookStep.ROLLBACK_REHEARSAL:
        return phase1.rehearse_rollback(actor=actor, progress=progress)
    if run.step == RunbookStep.DEPLOY_CHECK:
        return phase3.verify_deployment(
            build_hash=run.parameters["build_hash"], actor=actor, progress=progress, sleep=sleep
        )
    raise InvalidRequest(f"{run.step!r} is not a step the panel runs.")


def _backup_outcome(backup) -> Outcome:
    size = dumps.human_size(backup.size_bytes)
    result = {"backup": backup.pk, "path": backup.path, "size_bytes": backup.size_bytes, "sha256": backup.sha256}
    if not backup.verified:
        return Outcome(False, f"The archive {backup.file_name} ({size}) could not be read back: {backup.verify_error}",
                       result)  # fmt: skip
    return Outcome(
        True,
        f"{backup.file_name}: {size}, sha256 {backup.sha256[:12]}…, {backup.duration_ms / 1000:.1f} s, "
        f"PostgreSQL {backup.server_version}; read back with pg_restore --list ({backup.toc_entries} entries, "
        f"data for {len(backup.tables_with_data)} tables).",
        result,
    )


def _load_test_outcome(result: load_test.LoadTestResult) -> Outcome:
    ins, sel = result.insert_ms, result.select_ms
    text = (
        f"{result.inserts:,} sales at {result.achieved_rate:g}/s (asked {result.rate}/s for {result.seconds} s); "
        f"insert p50/p95/p99 {ins['p50']}/{ins['p95']}/{ins['p99']} ms, select {sel['p50']}/{sel['p95']}/"
        f"{sel['p99']} ms against the {result.target_ms:g} ms target"
    )
    if result.errors:
        text += f"; {result.errors} statements refused ({result.first_error})"
    elif result.achieved_rate < 0.9 * result.rate:
        text += "; the database could not keep up with the rate"
    return Outcome(result.passed, text + ".", result.as_dict())


def _finish(run_id: int, outcome: Outcome, *, error: str = "", only_from=(RunbookRun.Status.RUNNING,)):
    with transaction.atomic():
        run = RunbookRun.objects.select_for_update(of=("self",)).select_related("requested_by").get(pk=run_id)
        if run.status not in only_from:
            return run
        run.status = RunbookRun.Status.PASSED if outcome.passed else RunbookRun.Status.FAILED
        run.finished_at = timezone.now()
        run.progress = 100
        run.summary = outcome.summary[:500]
        run.result = outcome.result
        run.error = error
        run.save(update_fields=["status", "finished_at", "progress", "summary", "result", "error"])
        _record(
            kind=EventKind.RUNBOOK, actor=run.requested_by, target=run,
            before={"status": "running"},
            after={"run": run.pk, "step": run.step, "status": run.status, "summary": run.summary},
        )  # fmt: skip
    return run


# --- Waivers and the CI record -------------------------------------------------------------------------------
def _clean_reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise StepRefused("Say why: a waiver needs a reason, kept in the history.")
    if len(reason) > REASON_MAX or "\x00" in reason:
        raise StepRefused(f"The reason must be plain text of at most {REASON_MAX} characters.")
    return reason


def waive_step(*, actor, step: str, reason: str) -> RunbookRun:
    """Mark a Phase 1 / Phase 3 step as waived with a reason (product owners only); audited. A waiver never opens
    a rollout gate: the gates read the facts themselves."""
    if step not in STEP_SPECS:
        raise InvalidRequest(f"Unknown runbook step {step!r}.")
    _check_actor(actor, "panel")
    if step == RunbookStep.ROLLBACK_REHEARSAL and not permissions.can_trigger_rollback(actor):
        # Running it needs the kill-switch permission; waiving it must not be the way around that.
        raise NotAllowed("Waiving the rollback rehearsal needs rollout.trigger_rollback, as running it does.")
    reason = _clean_reason(reason)
    spec = STEP_SPECS[step]
    now = timezone.now()
    with transaction.atomic():
        if RunbookRun.objects.filter(step=step, status__in=RunbookRun.ACTIVE).exists():
            raise StepAlreadyRunning(f"{spec.title} is running: wait for its result before waiving it.")
        run = RunbookRun.objects.create(
            step=step, status=RunbookRun.Status.WAIVED, requested_by=actor, requested_by_name=actor.username,
            created_at=now, finished_at=now, reason=reason, summary=f"Waived by {actor.username}: {reason}"[:500],
        )  # fmt: skip
        _record(
            kind=EventKind.RUNBOOK, actor=actor, target=run, reason=reason,
            after={"run": run.pk, "step": step, "status": run.status, "summary": f"{spec.title} waived"},
        )  # fmt: skip
    return run


def record_ci_run(*, actor, url: str, passed: bool, note: str = "") -> RunbookRun:
    """Record the CI run of the release (tests, build, type-check, lint): its link and result; audited."""
    _check_actor(actor, "panel")
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > 500:
        raise StepRefused("Give the CI run's link (an http or https address).")
    note = (note or "").strip()[:REASON_MAX]
    now = timezone.now()
    verdict = "passed" if passed else "failed"
    with transaction.atomic():
        run = RunbookRun.objects.create(
            step=RunbookStep.TEST_SUITE,
            status=RunbookRun.Status.PASSED if passed else RunbookRun.Status.FAILED,
            requested_by=actor, requested_by_name=actor.username, created_at=now, started_at=now, finished_at=now,
            progress=100, parameters={"url": url}, result={"url": url, "passed": passed}, reason=note,
            summary=f"CI run {verdict}: {url}"[:500],
        )  # fmt: skip
        _record(
            kind=EventKind.RUNBOOK, actor=actor, target=run, reason=note,
            after={"run": run.pk, "step": run.step, "status": run.status, "summary": run.summary},
        )  # fmt: skip
    return run
