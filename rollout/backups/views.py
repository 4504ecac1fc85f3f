"""The backups page and the restores page (DESIGN §1): the Phase 2 dry run and the restore rehearsal (scratch
copies), and the database rollback of Option C (asked for, approved by a second person, started inside its window
with the kill switch engaged). Logic lives in rollout.backups.restores; these views check the permission, translate
refusals into messages and hand the work to the workers."""

from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from adminpanel.bad_input import text_param
from adminpanel.roles import read_all_required
from rollout import errors, permissions, tasks
from rollout.backups import restores
from rollout.errors import RolloutError
from rollout.models import DatabaseBackup, DatabaseRestore
from rollout.responses import require

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"


def _window_time(request: HttpRequest, name: str, label: str):
    value = text_param(request.POST, name, label=label).strip()
    if not value:
        return None
    try:
        return timezone.make_aware(datetime.strptime(value, DATETIME_FORMAT))  # noqa: DTZ007 (made aware here)
    except ValueError:
        raise errors.InvalidRequest(f"{label}: enter a date and time like 2026-12-05T22:00.") from None


def _backup_id(request: HttpRequest) -> int | None:
    value = text_param(request.POST, "backup", label="Backup").strip()
    if not value:
        return None
    if not value.isdigit():
        raise errors.InvalidRequest("Choose a backup from the list.")
    return int(value)


@require_GET
@read_all_required
def restores_page(request: HttpRequest):
    """Every restore, newest first; the forms for whoever may use them."""
    user = request.user
    rows = list(DatabaseRestore.objects.select_related("backup")[:50])
    for restore in rows:
        restore.blockers = restores.real_restore_blockers(restore) if restore.kind == "real" else []
        restore.may_approve = (
            restore.status == DatabaseRestore.Status.REQUESTED and restore.requested_by_id != user.pk
            and permissions.can_trigger_rollback(user)
        )  # fmt: skip
    return render(request, "rollout/restores.html", {
        "restores": rows,
        "backups": DatabaseBackup.objects.filter(verified=True)[:20],
        "may_rehearse": permissions.can_trigger_rollback(user),
        "may_dry_run": permissions.can_apply_migrations(user),
        "now": timezone.localtime(), "schemas": ", ".join(settings.BARTENDER_SCHEMAS),
    })  # fmt: skip


@require_GET
@read_all_required
def restore_detail(request: HttpRequest, pk: int):
    restore = get_object_or_404(DatabaseRestore.objects.select_related("backup"), pk=pk)
    blockers = restores.real_restore_blockers(restore) if restore.kind == DatabaseRestore.Kind.REAL else []
    return render(request, "rollout/restore_detail.html", {
        "restore": restore, "blockers": blockers, "may_act": permissions.can_trigger_rollback(request.user),
    })  # fmt: skip


def _queued(request: HttpRequest, restore: DatabaseRestore, what: str):
    if tasks.enqueue_restore(restore):
        restore.refresh_from_db()
        if restore.status in restore.ACTIVE:
            messages.success(request, f"{what} #{restore.pk} is queued; this page follows it.")
        else:
            messages.info(request, f"{what} #{restore.pk}: {restore.get_status_display().lower()}.")
    else:
        messages.error(request, f"{what} #{restore.pk} could not be queued: the task broker (Redis) is unreachable.")
    return redirect(reverse("rollout:restore", args=[restore.pk]))


def run_and_go_back(request: HttpRequest, fallback: str):
    return redirect(request.POST.get("next") if request.POST.get("next", "").startswith("/") else fallback)


@require_POST
def request_scratch(request: HttpRequest):
    """A dry run of Phase 2 or a restore rehearsal: both only touch a scratch database."""
    if not (permissions.can_apply_migrations(request.user) or permissions.can_trigger_rollback(request.user)):
        raise PermissionDenied("Dry runs need rollout.apply_migration; rehearsals need rollout.trigger_rollback.")
    kind = text_param(request.POST, "kind", label="Kind")
    try:
        restore = restores.request_scratch_restore(
            actor=request.user, kind=kind, backup_id=_backup_id(request),
            reason=text_param(request.POST, "reason", label="Reason"),
        )  # fmt: skip
    except errors.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except RolloutError as exc:
        messages.error(request, str(exc))
        return run_and_go_back(request, reverse("rollout:restores"))
    return _queued(request, restore, restore.get_kind_display())


@require_POST
def request_real(request: HttpRequest):
    """Ask for the database rollback (Option C); a second person approves it."""
    if not permissions.can_trigger_rollback(request.user):
        raise PermissionDenied("Restoring the database (Option C) needs rollout.trigger_rollback.")
    try:
        restore = restores.request_real_restore(
            actor=request.user, backup_id=_backup_id(request),
            reason=text_param(request.POST, "reason", label="Reason"),
            window_starts_at=_window_time(request, "window_starts_at", "Window starts"),
            window_ends_at=_window_time(request, "window_ends_at", "Window ends"),
        )  # fmt: skip
    except RolloutError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("rollout:restores") + "#option-c")
    messages.success(request, f"Database rollback #{restore.pk} asked for: a second person must approve it.")
    return redirect(reverse("rollout:restore", args=[restore.pk]))


def _act(request: HttpRequest, pk: int, call, success: str):
    if not permissions.can_trigger_rollback(request.user):
        raise PermissionDenied("Database restores need rollout.trigger_rollback.")
    try:
        restore = call()
    except RolloutError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("rollout:restore", args=[pk]))
    if restore.status == DatabaseRestore.Status.QUEUED:
        return _queued(request, restore, "Database rollback")
    messages.success(request, success.format(pk=restore.pk))
    return redirect(reverse("rollout:restore", args=[restore.pk]))


@require_POST
def approve_real(request: HttpRequest, pk: int):
    success = "Database rollback #{pk} approved: it may start inside its window, with the kill switch engaged."
    return _act(request, pk, lambda: restores.approve_real_restore(actor=request.user, restore_id=pk), success)


@require_POST
def start_real(request: HttpRequest, pk: int):
    return _act(request, pk, lambda: restores.start_real_restore(actor=request.user, restore_id=pk), "")


@require_POST
def cancel_real(request: HttpRequest, pk: int):
    reason = text_param(request.POST, "reason", label="Reason")
    return _act(request, pk, lambda: restores.cancel_real_restore(actor=request.user, restore_id=pk, reason=reason),
                "Database rollback #{pk} cancelled.")  # fmt: skip


@require_GET
def backup_list(request: HttpRequest):
    """Every backup the panel took, newest first, with what reading it back found."""
    require(permissions.can_view(request.user))
    backups = DatabaseBackup.objects.select_related("run")[:100]
    return render(request, "rollout/backups.html", {"backups": backups})
