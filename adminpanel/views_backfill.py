"""The backfill control page: start (product owners), live progress by htmx polling, pause and resume.

Support staff see the page and the progress but every start/pause/resume is refused with 403 and changes
nothing; bar managers see nothing. The work itself runs in Celery tasks (``mappings.tasks``).
"""

import logging
import uuid

from django.conf import settings
from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST
from kombu.exceptions import OperationalError as BrokerError

from adminpanel.models import Bar
from adminpanel.views_logs import HtmxHttpRequest, can_operate, logs_reader_required, operator_required
from mappings.backfill import (
    FALLBACK_REASON_LABELS,
    BackfillError,
    active_run,
    pause_backfill,
    resume_backfill,
    start_backfill,
)
from mappings.models import BackfillRun
from mappings.tasks import enqueue_backfill

logger = logging.getLogger(__name__)


def _progress_context(run: BackfillRun | None, user) -> dict:
    stalled = False
    if run is not None and run.status == BackfillRun.Status.RUNNING:
        idle = (timezone.now() - run.updated_at).total_seconds()
        stalled = idle > settings.BACKFILL_STALLED_AFTER_SECONDS
    return {
        "run": run,
        "stalled": stalled,
        "can_operate": can_operate(user),
        "poll_seconds": settings.BACKFILL_PROGRESS_POLL_SECONDS,
        "reason_labels": FALLBACK_REASON_LABELS,
    }


@require_GET
@logs_reader_required
def backfill(request: HtmxHttpRequest):
    """The live (or latest) run's progress, the start form, and recent runs."""
    run = active_run() or BackfillRun.objects.select_related("bar", "started_by").first()
    context = _progress_context(run, request.user)
    context["runs"] = BackfillRun.objects.select_related("bar", "started_by")[:10]
    context["default_batch_size"] = settings.BACKFILL_BATCH_SIZE
    return render(request, "adminpanel/backfill/backfill.html", context)


@require_GET
@logs_reader_required
def backfill_progress(request: HtmxHttpRequest, run_id: int):
    """The progress partial that htmx polls while the run is running."""
    run = get_object_or_404(BackfillRun.objects.select_related("bar", "started_by"), pk=run_id)
    return render(request, "adminpanel/backfill/_progress.html", _progress_context(run, request.user))


def _respond(request: HtmxHttpRequest, run: BackfillRun | None):
    if request.htmx and run is not None:
        run.refresh_from_db()
        return render(request, "adminpanel/backfill/_progress.html", _progress_context(run, request.user))
    return redirect("logs:backfill")


def _enqueue(request, run: BackfillRun) -> None:
    try:
        enqueue_backfill(run.pk)
    except BrokerError as exc:
        logger.warning("backfill run %s: could not reach the task queue: %s", run.pk, exc)
        messages.error(
            request,
            "The task queue is unreachable: the run is recorded but no worker has it yet. "
            "Resume it once the worker is back, or run `manage.py backfill_server_id`.",
        )


@require_POST
@operator_required
def backfill_start(request: HtmxHttpRequest):
    """Start a run for every bar or one bar (optionally a dry run) and hand it to the workers."""
    bar = None
    bar_value = request.POST.get("bar", "").strip()
    if bar_value:
        try:
            bar = Bar.objects.get(pk=uuid.UUID(bar_value))
        except (ValueError, Bar.DoesNotExist):
            messages.error(request, f"No bar with id {bar_value!r}.")
            return redirect("logs:backfill")
    try:
        batch_size = int(request.POST.get("batch_size") or settings.BACKFILL_BATCH_SIZE)
    except ValueError:
        batch_size = 0
    if not 1 <= batch_size <= 100_000:
        messages.error(request, "The batch size must be between 1 and 100000.")
        return redirect("logs:backfill")
    try:
        run = start_backfill(
            started_by=request.user,
            bar=bar,
            dry_run=request.POST.get("dry_run") in ("on", "true", "1"),
            batch_size=batch_size,
            via=BackfillRun.Via.PANEL,
        )
    except BackfillError as exc:
        messages.error(request, str(exc))
        return redirect("logs:backfill")
    _enqueue(request, run)
    messages.success(request, f"Backfill run {run.pk} started.")
    return _respond(request, run)


@require_POST
@operator_required
def backfill_pause(request: HtmxHttpRequest, run_id: int):
    run = get_object_or_404(BackfillRun, pk=run_id)
    try:
        pause_backfill(run=run, by=request.user)
    except BackfillError as exc:
        messages.error(request, str(exc))
    return _respond(request, run)


@require_POST
@operator_required
def backfill_resume(request: HtmxHttpRequest, run_id: int):
    run = get_object_or_404(BackfillRun, pk=run_id)
    try:
        run = resume_backfill(run=run, by=request.user)
    except BackfillError as exc:
        messages.error(request, str(exc))
        return _respond(request, run)
    _enqueue(request, run)
    return _respond(request, run)
