"""Rollout pages and the flag read API: parse, check permission, call one service, render."""

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from adminpanel.bad_input import text_param
from adminpanel.csv_export import csv_lines, csv_response
from adminpanel.htmx import HtmxHttpRequest
from adminpanel.paging import IdKeyset, estimated_row_counts, keyset_page
from adminpanel.roles import can_operate, can_read_all, read_all_required, roles_of
from monitoring.health import selectors as monitoring_selectors
from monitoring.incidents import selectors as incident_selectors
from rollout import (
    autopilot,
    cockpit,
    code_rollback,
    confirmations,
    explain,
    permissions,
    records,
    runbook,
    selectors,
    services,
    tasks,
)
from rollout.forms import (
    AdvanceForm,
    AllowListForm,
    AutopilotForm,
    CiRunForm,
    CockpitAdvanceForm,
    DeploymentRecordForm,
    FlipFlagForm,
    KillSwitchForm,
    ReasonForm,
    ReleaseKillSwitchForm,
    RunStepForm,
    StageRollbackForm,
    TimelineFilter,
    WaiveForm,
)
from rollout.models import DatabaseBackup, DeploymentRecord, FeatureFlag, FlagState, RunbookRun, RunbookStep
from rollout.phase1 import StepRefused

TIMELINE_PAGE = 100
ALREADY_ENGAGED = "The kill switch already was engaged (by another click or another person): nothing changed."


def _require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def _form_errors(form) -> str:
    return " ".join(f"{error}" for errors in form.errors.values() for error in errors)


def _back(request: HttpRequest, form, call, success: str | None = None):
    """Run a service call for a valid form; refusals become messages. Always back to the rollout page."""
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("rollout:page")
    try:
        result = call(form.cleaned_data)
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.RolloutError as exc:
        messages.error(request, str(exc))
        return redirect("rollout:page")
    message = getattr(result, "message", None) or success
    if message:
        (messages.success if getattr(result, "applied", True) else messages.warning)(request, message)
    return redirect("rollout:page")


# --- The rollout page -----------------------------------------------------------------------------


# --- Home: the runbook cockpit -------------------------------------------------------------------------------
@require_GET
def home(request: HttpRequest):
    """The landing page: one section per role the user holds, nothing for roles they lack. Support, product
    owners and superusers land on the runbook cockpit (where the deployment stands, what to do next); bar managers
    keep their bars (they never see the rollout or monitoring)."""
    roles = roles_of(request.user)
    context = {"roles": roles}
    if can_read_all(request.user):
        context["cockpit"] = cockpit.build(user=request.user)
        context["kill"] = selectors.kill_switch_status()
        context["can_rollback"] = permissions.capabilities(request.user)["rollback"]
        context["monitoring"] = True
        context["open_incidents"] = incident_selectors.open_incidents(limit=5)
    if roles.manages_bars:
        context["managed_bars"] = monitoring_selectors.bars_for_manager(request.user)
    if roles.is_support or roles.is_superuser:
        context["recent_errors"] = monitoring_selectors.recent_errors()
        context["row_estimates"] = estimated_row_counts(
            ["sales", "consignments", "returns", "audit_logs", "migration_server_id_log"]
        )
    if roles.is_product or roles.is_superuser:
        context["flags"] = FeatureFlag.objects.annotate(allow_listed=Count("allowed_bars"))
        context["adoption"] = monitoring_selectors.adoption()
    return render(request, "rollout/home.html", context)


@require_GET
@read_all_required
def cockpit_partial(request: HtmxHttpRequest):
    """The cockpit alone, which the home page polls (htmx) so running steps show their progress by themselves."""
    context = {
        "cockpit": cockpit.build(user=request.user),
        "kill": selectors.kill_switch_status(),
        "can_rollback": permissions.capabilities(request.user)["rollback"],
    }
    return render(request, "rollout/_cockpit.html", context)


def _to_step(step: str):
    return redirect(f"{reverse('home')}#step-{step}")


@require_POST
def runbook_run_step(request: HttpRequest, step: str):
    """Ask for a Phase 1 step or the Phase 3 deployment check; a worker runs it (its progress shows on the cockpit)."""
    if step not in runbook.EXECUTED:
        raise Http404("The panel does not run such a step.")
    _require(can_operate(request.user))
    form = RunStepForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _to_step(step)
    data = form.cleaned_data
    parameters = {name: data[name] for name in ("rate", "seconds", "build_hash") if data[name] not in (None, "")}
    try:
        run = runbook.request_run(actor=request.user, step=step, parameters=parameters, confirm=data["confirm"])
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except (StepRefused, services.RolloutError) as exc:
        messages.error(request, str(exc))
        return _to_step(step)
    tasks.enqueue_run(run)
    run.refresh_from_db()
    title = runbook.STEP_SPECS[step].title
    if run.status == RunbookRun.Status.PASSED:
        messages.success(request, f"{title}: passed. {run.summary}")
    elif run.status == RunbookRun.Status.FAILED:
        messages.error(request, f"{title}: failed. {run.summary or run.error}")
    else:
        messages.success(request, f"{title}: started; its progress shows below.")
    return _to_step(step)


@require_POST
def runbook_waive(request: HttpRequest, step: str):
    """Waive a Phase 1 or Phase 3 step with a reason (audited); a waiver never opens a rollout gate."""
    if step not in runbook.STEP_SPECS:
        raise Http404("No such runbook step.")
    _require(can_operate(request.user))
    form = WaiveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why: a waiver needs a reason.")
        return _to_step(step)
    try:
        runbook.waive_step(actor=request.user, step=step, reason=form.cleaned_data["reason"])
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except (StepRefused, services.RolloutError) as exc:
        messages.error(request, str(exc))
    else:
        messages.warning(request, f"{runbook.STEP_SPECS[step].title}: waived. The reason is in the history.")
    return _to_step(step)


@require_POST
def runbook_ci(request: HttpRequest):
    """Record the release's CI run (tests, build, type-check, lint): the panel cannot run BarTender's suite."""
    _require(can_operate(request.user))
    form = CiRunForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return _to_step(RunbookStep.TEST_SUITE)
    data = form.cleaned_data
    try:
        run = runbook.record_ci_run(
            actor=request.user, url=data["url"], passed=data["result"] == "passed", note=data["note"]
        )
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except StepRefused as exc:
        messages.error(request, str(exc))
    else:
        (messages.success if run.status == RunbookRun.Status.PASSED else messages.error)(request, run.summary)
    return _to_step(RunbookStep.TEST_SUITE)


@require_POST
def cockpit_advance(request: HttpRequest):
    """Start the next stage (or its next batch) from the cockpit, after the confirmation that names its bars."""
    _require(permissions.can_operate_stages(request.user))
    form = CockpitAdvanceForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(f"{reverse('home')}#phase-4")
    data = form.cleaned_data
    if data["override_reason"] and not permissions.can_override_gates(request.user):
        raise PermissionDenied("Overriding a gate needs the permission rollout.override_gate.")
    fields = {"version": data["version"], "batch_size": None, "override_reason": data["override_reason"]}
    try:
        confirmations.check(data["confirm_token"], user=request.user, action="advance", fields=fields)
    except confirmations.ConfirmationMissing as exc:
        # An override typed on the cockpit (or a stale or foreign token): the confirmation page with its figures.
        if FeatureFlag.objects.filter(kill_switch_engaged=True).exists():
            messages.error(request, services.KILL_SWITCH_HOLDS)
            return redirect(f"{reverse('home')}#phase-4")
        confirmation = confirmations.advance(user=request.user, **fields)
        error = str(exc) if data["confirm_token"] else ""
        return _confirm(request, confirmation, action_url=reverse("rollout:advance"), error=error)
    try:
        result = services.advance_stage(
            actor=request.user, expected_version=data["version"], override_reason=data["override_reason"]
        )
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.RolloutError as exc:
        messages.error(request, str(exc))
    else:
        (messages.success if result.applied else messages.warning)(request, result.message)
    return redirect(f"{reverse('home')}#phase-4")


@require_GET
def backup_list(request: HttpRequest):
    """Every backup the panel took, newest first, with what reading it back found."""
    _require(permissions.can_view(request.user))
    backups = DatabaseBackup.objects.select_related("run")[:100]
    return render(request, "rollout/backups.html", {"backups": backups})


@require_GET
def runbook_run(request: HttpRequest, pk: int):
    """One run of a runbook step: who, when, its parameters, its figures in words, and the shell equivalent."""
    _require(permissions.can_view(request.user))
    run = get_object_or_404(RunbookRun.objects.select_related("requested_by"), pk=pk)
    return render(
        request,
        "rollout/runbook_run.html",
        {"run": run, "spec": runbook.STEP_SPECS.get(run.step), "backups": list(run.backups.all())},
    )


@require_GET
def rollout_page(request: HtmxHttpRequest):
    """Flags, stages with their cohorts and health, gates, controls and the latest history."""
    _require(permissions.can_view(request.user))
    now = timezone.now()
    overview = selectors.rollout_overview(now=now)
    caps = permissions.capabilities(request.user)
    context = {
        "overview": overview,
        "autopilot": autopilot.outlook(
            state=overview.state, gates=overview.gates, entering_next_stage=overview.entering_next_stage, now=now
        ),
        "can_operate": caps["stages"],
        "can_override": caps["override"],
        "can_rollback": caps["rollback"],
        "kill": selectors.kill_switch_status(),
    }
    if request.htmx:
        return render(request, "rollout/_stages.html", context)
    context.update(
        flag_rows=selectors.flag_rows(request.user),
        recent=[(event, selectors.event_summary(event)) for event in selectors.timeline()[:10]],
        flip_states=[(value, label) for value, label in FlagState.choices if value != FlagState.OFF],
        deploy_hook=bool(code_rollback.hook_url()),
        code_rollbacks=code_rollback.recent(),
    )
    return render(request, "rollout/page.html", context)


@require_POST
def code_rollback_view(request: HttpRequest):
    """Rollback Option B: the deploy hook asked for an earlier build, then the health URL watched for it."""
    _require(permissions.can_trigger_rollback(request.user))
    token = text_param(request.POST, "confirm_token", label="Confirmation")[:1000]
    try:
        build, reason = code_rollback.clean_request(
            build=text_param(request.POST, "build", label="Build"),
            reason=text_param(request.POST, "reason", label="Reason"),
        )
        fields = {"build": build, "reason": reason}
        try:
            confirmations.check(token, user=request.user, action="code_rollback", fields=fields)
        except confirmations.ConfirmationMissing as exc:
            # Asked once, on a page naming the hook, the build and what the health URL serves now.
            confirmation = code_rollback.confirmation(user=request.user, build=build, reason=reason)
            error = str(exc) if token else ""
            return _confirm(request, confirmation, action_url=reverse("rollout:code_rollback"), error=error)
        rollback = code_rollback.request_code_rollback(actor=request.user, build=build, reason=reason)
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.RolloutError as exc:
        messages.error(request, str(exc))
        return redirect(reverse("rollout:page") + "#option-b")
    if tasks.enqueue_code_rollback(rollback):
        rollback.refresh_from_db()
        messages.success(request, f"Code rollback #{rollback.pk} to {rollback.build}: "
                                  f"{rollback.summary or 'the deploy hook is being called; this page shows the outcome.'}")  # noqa: E501  # fmt: skip
    else:
        messages.error(request, f"Code rollback #{rollback.pk} could not be queued: the task broker (Redis) is unreachable.")  # noqa: E501
    return redirect(reverse("rollout:page") + "#option-b")


def _confirm(request: HttpRequest, confirmation, *, action_url: str, status: int = 200, error: str = ""):
    """The one confirmation step: what the action changes (figures from the database), its undo, and a form
    that posts the same inputs back with the signed token."""
    return render(
        request,
        "rollout/confirm.html",
        {"confirmation": confirmation, "action_url": action_url, "error": error},
        status=status,
    )


@require_POST
def flip_flag(request: HttpRequest, key: str):
    """Flip a flag after one confirmation that says how many bars it changes; without it nothing changes."""
    flag = get_object_or_404(FeatureFlag, key=key)
    _require(permissions.can_flip(request.user, flag))
    form = FlipFlagForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("rollout:page")
    data = form.cleaned_data
    if flag.kill_switch_engaged:
        messages.error(request, services.KILL_SWITCH_HOLDS)
        return redirect("rollout:page")
    if flag.state == data["state"]:
        messages.warning(request, f"{flag.key} already is {flag.state_label.lower()}: nothing changed.")
        return redirect("rollout:page")
    confirmation = confirmations.flip(user=request.user, flag=flag, state=data["state"], reason=data["reason"])
    try:
        confirmations.check(data["confirm_token"], user=request.user, action="flip", fields=confirmation.fields)
    except confirmations.ConfirmationMissing as exc:
        error = str(exc) if data["confirm_token"] else ""
        return _confirm(request, confirmation, action_url=reverse("rollout:flip", args=[key]), error=error)
    return _back(
        request,
        form,
        lambda data: services.flip_flag(actor=request.user, flag_key=key, state=data["state"], reason=data["reason"]),
    )


@require_POST
def allow_list(request: HttpRequest, key: str):
    flag = get_object_or_404(FeatureFlag, key=key)
    _require(permissions.can_flip(request.user, flag))

    def call(data):
        add = data["action"] == "add"
        changed = services.change_allow_list(
            actor=request.user, flag_key=key, bar=data["bar"], add=add, reason=data["reason"]
        )
        verb = "added to" if add else "removed from"
        note = "" if changed else " (it already was: nothing changed)"
        messages.success(request, f"{data['bar'].name} {verb} the allow-list of {key}{note}.")

    return _back(request, AllowListForm(request.POST, requester=request.user), call)


@require_POST
def advance(request: HttpRequest):
    """Advance after one confirmation naming how many bars switch ("Advance to 4b switches 4,403 bars")."""
    _require(permissions.can_operate_stages(request.user))
    form = AdvanceForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect("rollout:page")
    data = form.cleaned_data
    if data["override_reason"] and not permissions.can_override_gates(request.user):
        raise PermissionDenied("Overriding a gate needs the permission rollout.override_gate.")
    if FeatureFlag.objects.filter(kill_switch_engaged=True).exists():
        messages.error(request, services.KILL_SWITCH_HOLDS)
        return redirect("rollout:page")
    confirmation = confirmations.advance(
        user=request.user,
        version=data["version"],
        batch_size=data["batch_size"],
        override_reason=data["override_reason"],
    )
    try:
        confirmations.check(data["confirm_token"], user=request.user, action="advance", fields=confirmation.fields)
    except confirmations.ConfirmationMissing as exc:
        error = str(exc) if data["confirm_token"] else ""
        return _confirm(request, confirmation, action_url=reverse("rollout:advance"), error=error)
    return _back(
        request,
        form,
        lambda data: services.advance_stage(
            actor=request.user,
            expected_version=data["version"],
            batch_size=data["batch_size"],
            override_reason=data["override_reason"],
        ),
    )


@require_POST
def pause(request: HttpRequest):
    _require(permissions.can_operate_stages(request.user))
    return _back(
        request,
        ReasonForm(request.POST),
        lambda data: services.pause_rollout(actor=request.user, reason=data["reason"]),
        "The rollout is paused: it holds its stage.",
    )


@require_POST
def resume(request: HttpRequest):
    _require(permissions.can_operate_stages(request.user))
    return _back(
        request,
        ReasonForm(request.POST),
        lambda data: services.resume_rollout(actor=request.user, reason=data["reason"]),
        "The rollout is resumed.",
    )


@require_POST
def stage_rollback(request: HttpRequest):
    _require(permissions.can_trigger_rollback(request.user))
    return _back(
        request,
        StageRollbackForm(request.POST),
        lambda data: services.rollback_stage(
            actor=request.user, expected_version=data["version"], reason=data["reason"]
        ),
    )


@require_http_methods(["GET", "POST"])
def kill_switch(request: HttpRequest):
    """Runbook Option A behind one confirmation: GET shows how many bars it turns off, POST with the tick and a
    reason does it. While engaged, the page says so and offers the release instead."""
    _require(permissions.can_trigger_rollback(request.user))
    kill = selectors.kill_switch_status()
    form = KillSwitchForm(request.POST or None)
    error = ""
    if request.method == "POST" and kill.engaged:
        messages.warning(request, ALREADY_ENGAGED)
        return redirect("rollout:page")
    if request.method == "POST" and form.is_valid():
        try:
            confirmations.check(form.cleaned_data["confirm_token"], user=request.user, action="kill", fields={})
        except confirmations.ConfirmationMissing as exc:
            error = str(exc)
        else:
            try:
                pulled = services.pull_kill_switch(actor=request.user, reason=form.cleaned_data["reason"])
            except services.NotAllowed as exc:
                raise PermissionDenied(str(exc)) from exc
            if pulled:
                messages.success(
                    request, "Kill switch engaged: both flags are off for every bar. Undo: Release kill switch."
                )
            else:  # another click won the race (it holds the lock first): say so, not an error
                messages.warning(request, ALREADY_ENGAGED)
            return redirect("rollout:page")
    status = 400 if request.method == "POST" else 200
    confirmation = None if kill.engaged else confirmations.kill_switch(user=request.user)
    context = {"form": form, "kill": kill, "confirmation": confirmation, "error": error}
    return render(request, "rollout/kill_switch.html", context, status=status)


def _release(request: HttpRequest, reason: str, *, expected: str):
    try:
        released = services.release_kill_switch(actor=request.user, reason=reason, expected=expected)
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.RolloutError as exc:
        messages.error(request, str(exc))
        return redirect("rollout:page")
    if released:
        messages.success(
            request,
            "Kill switch released: both flags are on again for their allow-listed bars. The rollout stays "
            "paused: resume it when you are ready.",
        )
    else:
        messages.warning(request, "The kill switch was not engaged: nothing changed.")
    return redirect("rollout:page")


@require_http_methods(["GET", "POST"])
def release_kill_switch(request: HttpRequest):
    """The one way back from the kill switch: confirmation with the bars it turns back on, a reason, audited."""
    _require(permissions.can_trigger_rollback(request.user))
    kill = selectors.kill_switch_status()
    form = ReleaseKillSwitchForm(request.POST or None)
    error = ""
    if request.method == "POST" and form.is_valid():
        if not kill.engaged:
            messages.warning(request, "The kill switch was not engaged: nothing changed.")
            return redirect("rollout:page")
        shown = confirmations.release_fields()
        try:
            confirmations.check(form.cleaned_data["confirm_token"], user=request.user, action="release", fields=shown)
        except confirmations.ConfirmationMissing as exc:
            error = str(exc)  # the page again, for the kill switch engaged now, with a new token
        else:
            return _release(request, form.cleaned_data["reason"], expected=shown["kill_switch"])
    if request.method == "GET" and not kill.engaged:
        messages.info(request, "The kill switch is not engaged: there is nothing to release.")
        return redirect("rollout:page")
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "kill": kill, "confirmation": confirmations.release(user=request.user), "error": error}
    return render(request, "rollout/release_kill_switch.html", context, status=status)


@require_POST
def autopilot_on(request: HttpRequest):
    """Turn the autopilot on (confirmed once, with a reason); the same check runs again in the service."""
    _require(permissions.can_operate_stages(request.user))
    return _back(
        request,
        AutopilotForm(request.POST),
        lambda data: autopilot.enable_autopilot(
            actor=request.user, batch_size=data["batch_size"], reason=data["reason"]
        ),
        "The autopilot is on: it advances by itself whenever every gate passes, and pauses when a safeguard "
        "trips. Take manual control at any time.",
    )


@require_POST
def autopilot_off(request: HttpRequest):
    """Take manual control: one click, nothing else changes."""
    _require(permissions.can_operate_stages(request.user))
    try:
        autopilot.take_manual_control(actor=request.user)
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    messages.success(request, "You have manual control: the autopilot is off and the rollout stays where it is.")
    return redirect("rollout:page")


# --- History --------------------------------------------------------------------------------------
@require_GET
def history(request: HttpRequest):
    """The whole timeline, filterable, newest first, by pages of the id (no COUNT over the table)."""
    _require(permissions.can_view(request.user))
    events = TimelineFilter(request.GET, queryset=selectors.timeline())
    page = keyset_page(
        events.qs,
        keyset=IdKeyset,
        size=TIMELINE_PAGE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    query = request.GET.copy()
    for name in ("after", "before"):
        query.pop(name, None)
    root_cause = selectors.root_cause_links(page.rows)
    for event in page.rows:
        event.root_cause_url = root_cause.get(event.pk)  # each rollback links to its root-cause page
    return render(
        request,
        "rollout/history.html",
        {
            "filter": events,
            "events": [(event, selectors.event_summary(event)) for event in page.rows],
            "page": page,
            "query": query.urlencode(),
        },
    )


@require_GET
def history_csv(request: HttpRequest):
    _require(permissions.can_view(request.user))
    events = TimelineFilter(request.GET, queryset=selectors.timeline()).qs
    return csv_response(csv_lines(selectors.CSV_COLUMNS, selectors.timeline_csv_rows(events)), prefix="rollout-history")


# --- Deployment records ---------------------------------------------------------------------------
@require_GET
def record_list(request: HttpRequest):
    _require(permissions.can_view(request.user))
    records = DeploymentRecord.objects.select_related("deployer", "reviewer")[:100]
    return render(
        request,
        "rollout/records.html",
        {"records": records, "can_manage": permissions.can_manage_records(request.user)},
    )


@require_http_methods(["GET", "POST"])
def record_edit(request: HttpRequest, pk: int | None = None):
    """Create (no pk) or edit an unsigned record."""
    _require(permissions.can_manage_records(request.user))
    record = get_object_or_404(DeploymentRecord, pk=pk) if pk else None
    if record and (record.deployer_signed_at or record.reviewer_signed_at):
        messages.error(request, "A signed record cannot be edited.")
        return redirect("rollout:record", pk=record.pk)
    initial = {}
    if record is None:
        # A new record starts with the deployment (its first Phase 1 step) and its deployer is whoever starts it.
        initial = {"started_at": records.deployment_start(), "deployer": request.user.pk}
    form = DeploymentRecordForm(request.POST or None, instance=record, initial=initial)
    if request.method == "POST" and form.is_valid():
        values = {name: form.cleaned_data[name] for name in form.Meta.fields}
        try:
            if record:
                record = services.update_record(actor=request.user, record_id=record.pk, **values)
            else:
                record = services.create_record(actor=request.user, **values)
        except ValidationError as exc:
            form.add_error(None, exc)
        except services.RolloutError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Deployment record saved.")
            return redirect("rollout:record", pk=record.pk)
    return render(request, "rollout/record_form.html", {"form": form, "record": record})


def _record_context(request: HttpRequest, record: DeploymentRecord) -> dict:
    contents = selectors.record_contents(record)
    hint = services.signing_hint(record, request.user)
    is_signer = request.user.pk in (record.deployer_id, record.reviewer_id)
    return {
        "record": record,
        "timeline": contents["timeline"],
        "monitoring": contents["monitoring"],
        # Records frozen before the cockpit existed carry no verification or milestones.
        "verification": contents.get("verification"),
        "milestones": contents.get("milestones"),
        # Records frozen before issue 21 carry no checklist, time boxes or decisions.
        "checklist": contents.get("checklist"),
        "timeboxes": contents.get("timeboxes"),
        "decisions": contents.get("decisions"),
        "can_sign": not hint,
        "show_sign": is_signer and not record.is_signed,
        "sign_hint": hint,
        "sign_as": "deployer" if request.user.pk == record.deployer_id else "reviewer",
        "can_edit": permissions.can_manage_records(request.user)
        and not (record.deployer_signed_at or record.reviewer_signed_at),
    }


@require_GET
def record_detail(request: HttpRequest, pk: int):
    """The record laid out as the runbook's template; prints cleanly (navigation and buttons hidden)."""
    _require(permissions.can_view(request.user))
    record = get_object_or_404(DeploymentRecord.objects.select_related("deployer", "reviewer"), pk=pk)
    return render(request, "rollout/record.html", _record_context(request, record))


@require_GET
def record_markdown(request: HttpRequest, pk: int):
    _require(permissions.can_view(request.user))
    record = get_object_or_404(DeploymentRecord.objects.select_related("deployer", "reviewer"), pk=pk)
    response = render(
        request, "rollout/record.md", _record_context(request, record), content_type="text/markdown; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="deployment-record-{record.pk}.md"'
    return response


@require_POST
def record_sign(request: HttpRequest, pk: int):
    record = get_object_or_404(DeploymentRecord, pk=pk)
    _require(request.user.pk in (record.deployer_id, record.reviewer_id))
    try:
        services.sign_record(actor=request.user, record_id=record.pk)
    except services.NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except services.RolloutError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Signed.")
    return redirect("rollout:record", pk=record.pk)


# (The flag read API for clients lives in rollout/api.py.)


# --- "Why is this bar on?" ------------------------------------------------------------------------
@require_GET
def explain_page(request: HtmxHttpRequest):
    """Pick a bar by name (search as you type), then see every input of its flags and the final values."""
    _require(permissions.can_view(request.user))
    query = request.GET.get("q", "").strip()[:200]
    raw = request.GET.get("bar", "")
    context = {"query": query, "matches": explain.search_bars(query) if query else [], "explanation": None}
    status = 200
    if raw:
        try:
            context["explanation"] = explain.explain_bar(uuid.UUID(raw))
        except ValueError:
            context["error"], status = "That link does not name a bar; pick the bar by its name below.", 400
        else:
            if context["explanation"] is None:
                context["error"], status = "No bar has this id any more; pick the bar by its name below.", 404
    return render(request, "rollout/explain.html", context, status=status)


@require_GET
def explain_matches(request: HtmxHttpRequest):
    """The search-as-you-type list of bars whose name contains `q` (htmx partial)."""
    _require(permissions.can_view(request.user))
    query = request.GET.get("q", "").strip()[:200]
    return render(request, "rollout/_bar_matches.html", {"query": query, "matches": explain.search_bars(query)})
