"""Pages of runbook step 6 and section 2.2: the backfill control (start, live progress, pause, resume), the
migration log with its root-cause summaries, and the post-migration validation.

Who may do what (checked on every request, whatever the page shows): support, product and superusers read
every page and export CSV; only product owners and superusers start, pause or resume a backfill or run a
validation (anyone else gets 403 and nothing changes); bar managers see nothing. The backfill itself runs in
Celery tasks (``backfill.tasks``).
"""

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from adminpanel import confirmations
from adminpanel.csv_export import csv_response, stream_csv
from adminpanel.htmx import HtmxHttpRequest
from adminpanel.log_filters import valid_or_bad_input
from adminpanel.paging import IdKeyset, keyset_page_context
from adminpanel.roles import can_operate, operator_required, read_all_required
from backfill import selectors
from backfill.backfill import (
    BackfillError,
    active_run,
    pause_backfill,
    pending_by_table,
    resume_backfill,
    start_backfill,
)
from backfill.filters import MigrationLogFilter
from backfill.forms import BackfillStartForm
from backfill.models import BackfillRun, ValidationRun
from backfill.recovery import UNQUEUED_MESSAGE, fail_unqueued_run
from backfill.sources import FALLBACK_REASON_LABELS
from backfill.tasks import enqueue_backfill
from backfill.validation import latest_validation, run_validation

RECENT_RUNS = 10


def _progress_context(run: BackfillRun | None, user, *, partial: bool = False) -> dict:
    """The run card and the "Recent runs" table from one read, so they never disagree: a partial response (the
    poll, pause, resume) carries the table as an out-of-band swap and the page's messages with it."""
    stalled = False
    if run is not None and run.status == BackfillRun.Status.RUNNING:
        idle = (timezone.now() - run.updated_at).total_seconds()
        stalled = idle > settings.BACKFILL_STALLED_AFTER_SECONDS
    runs = list(BackfillRun.objects.select_related("bar", "started_by")[:RECENT_RUNS])
    if run is not None:
        runs = [run if past.pk == run.pk else past for past in runs]
    return {
        "run": run,
        "outcomes": selectors.run_outcomes(run) if run is not None else None,
        "words": selectors.OUTCOME_WORDS,
        "runs": runs,
        "partial": partial,
        "stalled": stalled,
        "can_operate": can_operate(user),
        "poll_seconds": settings.BACKFILL_PROGRESS_POLL_SECONDS,
        "reason_labels": FALLBACK_REASON_LABELS,
    }


def _render_progress(request, run: BackfillRun):
    response = render(request, "backfill/_progress.html", _progress_context(run, request.user, partial=True))
    if run.status != BackfillRun.Status.RUNNING:
        # The run stopped (finished, paused, failed): the whole-log totals refresh too.
        response["HX-Trigger"] = "backfill-changed"
    return response


@require_GET
@read_all_required
def backfill(request: HtmxHttpRequest):
    """The live (or latest) run's progress, the start form, and recent runs."""
    run = active_run() or BackfillRun.objects.select_related("bar", "started_by").first()
    context = _progress_context(run, request.user)
    context["form"] = BackfillStartForm(initial={"batch_size": settings.BACKFILL_BATCH_SIZE})
    return render(request, "backfill/backfill.html", context)


@require_GET
@read_all_required
def backfill_totals(request: HtmxHttpRequest):
    """The whole migration log's figures, in the words of the run card and the validation."""
    return render(
        request, "backfill/_log_totals.html", {"totals": selectors.log_totals(), "words": selectors.OUTCOME_WORDS}
    )


@require_GET
@read_all_required
def backfill_progress(request: HtmxHttpRequest, run_id: int):
    """The progress partial that htmx polls while the run is running."""
    run = get_object_or_404(BackfillRun.objects.select_related("bar", "started_by"), pk=run_id)
    return _render_progress(request, run)


def _respond(request: HtmxHttpRequest, run: BackfillRun | None):
    if request.htmx and run is not None:
        run.refresh_from_db()
        return _render_progress(request, run)
    return redirect("backfill:backfill")


def _enqueue(request, run: BackfillRun) -> bool:
    """Hand the run to the workers; with the queue unreachable the run is marked failed (so it blocks no new
    run and does not pretend to be running) and the page says why and what to do."""
    if enqueue_backfill(run.pk):
        return True
    fail_unqueued_run(run=run, by=request.user)
    messages.error(request, f"Backfill run {run.pk} could not start: {UNQUEUED_MESSAGE}")
    return False


FULL_BACKFILL = "backfill.all_bars"


def _confirm_full(request: HttpRequest, *, batch_size: int, error: str = ""):
    """The all-bars run's one confirmation: how many rows it fills per table (counted now), how it is stopped and
    undone, and a token bound to this user, the batch size and exactly these counts."""
    pending = pending_by_table()
    shown = ";".join(f"{table}={count}" for table, count in sorted(pending.items()))
    fields = {"batch_size": batch_size, "shown": shown}
    context = {
        "pending": pending,
        "total": sum(pending.values()),
        "batch_size": batch_size,
        "active": active_run(),
        "shown": shown,
        "token": confirmations.sign(user=request.user, action=FULL_BACKFILL, fields=fields),
        "error": error,
    }
    return render(request, "backfill/confirm_full.html", context, status=400 if error else 200)


@require_POST
@operator_required
def backfill_start(request: HtmxHttpRequest):
    """Start a run for every bar or one bar (optionally a dry run) and hand it to the workers. A real run over
    every bar is refused until it is confirmed: the answer is then a page that says how many rows it fills,
    per table, and how it is stopped and undone."""
    form = BackfillStartForm(request.POST, requester=request.user)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect("backfill:backfill")
    if form.needs_confirmation:
        data = form.cleaned_data
        if not data["confirmed"]:
            return _confirm_full(request, batch_size=data["batch_size"])
        fields = {"batch_size": data["batch_size"], "shown": data["shown"]}
        try:
            confirmations.check(data["confirm_token"], user=request.user, action=FULL_BACKFILL, fields=fields)
        except confirmations.ConfirmationMissing as exc:
            return _confirm_full(request, batch_size=data["batch_size"], error=str(exc))
    try:
        run = start_backfill(
            started_by=request.user,
            bar=form.cleaned_data["bar"],
            dry_run=form.cleaned_data["dry_run"],
            batch_size=form.cleaned_data["batch_size"],
            via=BackfillRun.Via.PANEL,
        )
    except BackfillError as exc:
        messages.error(request, str(exc))
        return redirect("backfill:backfill")
    if _enqueue(request, run):
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


# --- Migration log ---------------------------------------------------------------------------------------


@require_GET
@read_all_required
def migration_log(request: HtmxHttpRequest):
    """The migration log, newest first, filtered, one keyset page at a time."""
    filterset = MigrationLogFilter(request.GET or None, queryset=selectors.migration_log_queryset(), request=request)
    context = keyset_page_context(request.GET, filterset, IdKeyset, estimates=selectors.log_row_estimates())
    users = selectors.users_by_id(row.resolved_server_id for row in context["page"].rows)
    for row in context["page"].rows:
        row.resolved_username = users.get(row.resolved_server_id)
    context["reason_labels"] = FALLBACK_REASON_LABELS
    context["can_operate"] = can_operate(request.user)
    if not context["page"].rows:
        context["any_backfill"] = BackfillRun.objects.exists()
    if request.htmx and request.htmx.target == "log-rows":
        return render(request, "backfill/_migration_rows.html", context)
    return render(request, "backfill/migration_log.html", context)


@require_GET
@read_all_required
def migration_log_summary(request: HtmxHttpRequest):
    """The runbook's root-cause summaries (a partial the list page loads after itself)."""
    context = {
        "summary": selectors.migration_summary(),
        "reason_labels": FALLBACK_REASON_LABELS,
        "words": selectors.OUTCOME_WORDS,
        "can_operate": can_operate(request.user),
    }
    if request.htmx:
        return render(request, "backfill/_migration_summary.html", context)
    return render(request, "backfill/migration_summary.html", context)


MIGRATION_CSV_HEADER = [
    "id",
    "created_at",
    "source",
    "source_id",
    "bar_id",
    "bar",
    "server_name",
    "resolved_server_id",
    "fallback_used",
    "fallback_reason",
]


def _migration_csv_row(row):
    source, source_id = next(
        (name, value)
        for name, value in (("sale", row.sale_id), ("consignment", row.consignment_id), ("return", row.return_id))
        if value is not None
    )
    return [
        row.pk,
        row.created_at,
        source,
        source_id,
        row.bar_id,
        row.bar.name if row.bar else "",
        row.server_name,
        row.resolved_server_id,
        "true" if row.fallback_used else "false",
        row.fallback_reason,
    ]


@require_GET
@read_all_required
def migration_log_export(request: HttpRequest):
    """The filtered migration log as CSV, streamed in keyset chunks."""
    filterset = valid_or_bad_input(
        MigrationLogFilter(request.GET or None, queryset=selectors.migration_log_queryset(), request=request)
    )
    lines = stream_csv(filterset.qs, keyset=IdKeyset, header=MIGRATION_CSV_HEADER, row_values=_migration_csv_row)
    return csv_response(lines, prefix="migration-server-id-log")


# --- Post-migration validation ---------------------------------------------------------------------------


def _validation_history():
    return ValidationRun.objects.select_related("run_by")[:20]


@require_GET
@read_all_required
def validation(request: HttpRequest):
    """The latest stored validation, line by line, and the runs before it."""
    return render(
        request,
        "backfill/validation.html",
        {
            "run": latest_validation(),
            "history": _validation_history(),
            "can_run": can_operate(request.user),
        },
    )


@require_GET
@read_all_required
def validation_detail(request: HttpRequest, run_id: int):
    run = get_object_or_404(ValidationRun.objects.prefetch_related("checks"), pk=run_id)
    return render(
        request,
        "backfill/validation.html",
        {
            "run": run,
            "history": _validation_history(),
            "can_run": can_operate(request.user),
        },
    )


@require_POST
@operator_required
def validation_run(request: HtmxHttpRequest):
    """Run every check now and store the result (one click)."""
    run = run_validation(run_by=request.user)
    if request.htmx:
        # The result, and the "Earlier runs" table with the new run in it (out of band): never one without the other.
        context = {"run": run, "history": _validation_history(), "history_oob": True}
        return render(request, "backfill/_validation_result.html", context)
    messages.success(request, f"Validation {'passed' if run.passed else 'FAILED'} in {run.duration_ms} ms.")
    return redirect("backfill:validation")
