"""What a deployment record knows without anyone typing it: the facts the cockpit measured.

The runbook's "Deployment Record Template" asks for a backup, "All tests passing", "Feature flags OFF", "Code builds
successfully", a timeline and the first 24 hours' monitoring results. Each is read here from what the panel
recorded: the Phase 1 runs (a flags-off verification is a fact at the moment it was read, never a checkbox), the
six migrations, the backfill, the Phase 3 check and window, and the figures computed over the monitoring window
itself (a rate over the whole window, not the worst 5-minute value). Read-only; rollout/records/selectors.py puts it
together with the event timeline, and signing freezes it.
"""

from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from backfill import selectors as backfill_selectors
from backfill.phase2 import services as phase2_services
from monitoring.enums import PhaseKind
from monitoring.health import selectors as monitoring_selectors
from rollout.models import DatabaseBackup, Decision, DeploymentRecord, EventKind, RolloutEvent, RunbookRun, RunbookStep
from rollout.runbook import checklist

MONITORING_WINDOW = timedelta(hours=24)
PHASE1_STEPS = (
    RunbookStep.TEST_SUITE,
    RunbookStep.LOAD_TEST,
    RunbookStep.ROLLBACK_REHEARSAL,
    RunbookStep.BACKUP,
    RunbookStep.FLAGS_OFF,
)
DECIDED = (RunbookRun.Status.PASSED, RunbookRun.Status.FAILED, RunbookRun.Status.WAIVED)

# The runbook's six migrations (section 2.1), in its order, as the Django migrations that carry them out
# (tests/test_migrations.py checks the same list against the migration plan).
def applied_runbook_migrations() -> dict[str, datetime | None]:
    """The runbook migrations recorded as applied in BarTender's ``supabase_migrations.schema_migrations``: version
    → when the panel applied it (None: applied outside the panel)."""
    return {state["step"].version: state["run"].started_at if state["run"] else None
            for state in phase2_services.step_states() if state["state"] != "not_applied"}  # fmt: skip


def deployment_start(*, after: datetime | None = None) -> datetime | None:
    """When this deployment began: the first Phase 1 step asked for (after the previous record's end, if any)."""
    runs = RunbookRun.objects.filter(step__in=PHASE1_STEPS)
    if after is None:
        previous = (
            DeploymentRecord.objects.filter(ended_at__isnull=False).order_by("-ended_at").values_list("ended_at")
        ).first()
        after = previous[0] if previous else None
    if after is not None:
        runs = runs.filter(created_at__gt=after)
    first = runs.order_by("created_at").values_list("created_at", flat=True).first()
    return first


def _latest(step: str, *, until: datetime) -> RunbookRun | None:
    return (
        RunbookRun.objects.filter(step=step, status__in=DECIDED, created_at__lte=until)
        .order_by("-created_at", "-id")
        .first()
    )


def _fact(run: RunbookRun | None) -> dict:
    if run is None:
        return {"state": "not_started", "ok": None, "summary": "Not done.", "at": "", "by": "", "run": None}
    ok = {RunbookRun.Status.PASSED: True, RunbookRun.Status.FAILED: False}.get(run.status)
    return {
        "state": run.status,
        "ok": ok,
        "summary": run.summary or run.error,
        "at": timezone.localtime(run.finished_at or run.created_at).isoformat(timespec="seconds"),
        "by": run.requested_by_name,
        "run": run.pk,
    }


def latest_verified_backup(*, until: datetime) -> DatabaseBackup | None:
    """The newest backup read back and verified at or before `until`, if any."""
    return DatabaseBackup.objects.filter(verified=True, created_at__lte=until).order_by("-created_at").first()


def record_verification(record: DeploymentRecord) -> dict:
    """The Pre-Deployment Verification section: every Phase 1 fact as it stood at the record's end (or now)."""
    until = record.ended_at or timezone.now()
    backup = record.backup or latest_verified_backup(until=until)
    ci = _latest(RunbookStep.TEST_SUITE, until=until)
    return {
        "backup": {
            "id": backup.pk,
            "path": backup.path,
            "sha256": backup.sha256,
            "size_bytes": backup.size_bytes,
            "at": timezone.localtime(backup.created_at).isoformat(timespec="seconds"),
            "server_version": backup.server_version,
        }
        if backup
        else None,
        "tests": {**_fact(ci), "url": (ci.result or {}).get("url", "") if ci else ""},
        "flags_off": _fact(_latest(RunbookStep.FLAGS_OFF, until=until)),
        "load_test": _fact(_latest(RunbookStep.LOAD_TEST, until=until)),
        "rehearsal": _fact(_latest(RunbookStep.ROLLBACK_REHEARSAL, until=until)),
        "deploy_check": _fact(_latest(RunbookStep.DEPLOY_CHECK, until=until)),
    }


def fill_from_cockpit(record: DeploymentRecord) -> None:
    """Set the record's checklist fields from the facts (they are never taken from a form)."""
    facts = record_verification(record)
    backup = facts["backup"]
    if record.backup_id is None and backup:
        record.backup_id = backup["id"]
    record.backup_location = f"{backup['path']} (sha256 {backup['sha256']})" if backup else ""
    record.flags_off = facts["flags_off"]["ok"]
    record.tests_passing = facts["tests"]["ok"]
    # The CI run covers the build, type-check and lint (runbook 3.1); the deployment check proves it shipped.
    record.code_builds = facts["tests"]["ok"]


def _at(value) -> str:
    return timezone.localtime(value).isoformat(timespec="minutes") if value else ""


def record_milestones(record: DeploymentRecord) -> dict:
    """The template's "Deployment Timeline" lines, each read from what happened."""
    start = record.started_at
    until = record.ended_at or timezone.now()
    first_phase1 = (
        RunbookRun.objects.filter(step__in=PHASE1_STEPS, created_at__gte=start, created_at__lte=until)
        .order_by("created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    applied = sorted(at for at in applied_runbook_migrations().values() if at is not None)
    backfill = backfill_selectors.last_finished_full_backfill()
    migrations_end = max([*applied[-1:], *([backfill.finished_at] if backfill else [])], default=None)
    deploy = (
        RunbookRun.objects.filter(step=RunbookStep.DEPLOY_CHECK, status=RunbookRun.Status.PASSED, created_at__gte=start)
        .order_by("-created_at")
        .first()
    )
    window = monitoring_selectors.latest_window(PhaseKind.PHASE3, since=start)
    return {
        "pre_deployment_start": _at(first_phase1 or start),
        "migrations_start": _at(applied[0] if applied else None),
        "migrations_end": _at(migrations_end),
        "code_deployment_start": _at(deploy.started_at if deploy else None),
        "code_deployment_end": _at(deploy.finished_at if deploy else None),
        "monitoring_start": _at(window.started_at if window else None),
        "monitoring_end": _at(window.ends_at if window else None),
        "monitoring_verdict": window.get_verdict_display() if window else "",
    }


def monitoring_window(record: DeploymentRecord) -> tuple[datetime, datetime]:
    """The first 24 hours after the code deployment (the Phase 3 check), or after the record's start without one."""
    deploy = (
        RunbookRun.objects.filter(
            step=RunbookStep.DEPLOY_CHECK, status=RunbookRun.Status.PASSED, created_at__gte=record.started_at
        )
        .order_by("created_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    start = deploy or record.started_at
    return start, start + MONITORING_WINDOW


WINDOW_FIGURES_SQL = """
SELECT (SELECT count(*) FROM sales WHERE created_at >= %(start)s AND created_at < %(end)s),
       (SELECT count(server_id) FROM sales WHERE created_at >= %(start)s AND created_at < %(end)s),
       (SELECT count(*) FROM audit_logs WHERE level = 'error' AND created_at >= %(start)s AND created_at < %(end)s),
       (SELECT count(*) FROM audit_logs WHERE error_type = 'rls_violation'
          AND created_at >= %(start)s AND created_at < %(end)s)
"""


def window_figures(*, start: datetime, end: datetime, latency_check: str) -> dict:
    """The runbook's four monitoring results over the whole window: error rate (error-level audit logs per
    operation, as the error-log check counts them), server_id coverage of the window's sales, RLS violations, and
    the RLS latency the health runs saw (the mean over the runs of their slowest RLS statement, and the highest)."""
    with connection.cursor() as cursor:
        cursor.execute(WINDOW_FIGURES_SQL, {"start": start, "end": end})
        sales, with_server, errors, rls = cursor.fetchone()
    latency = monitoring_selectors.check_value_figures(latency_check, start=start, end=end)
    operations = sales + errors
    return {
        "sales": sales,
        "errors": errors,
        "error_rate": round(errors * 100.0 / operations, 2) if operations else None,
        "server_id_coverage": round(with_server * 100.0 / sales, 2) if sales else None,
        "rls_violations": rls,
        "latency_ms": round(latency["mean"], 1) if latency["mean"] is not None else None,
        "latency_worst_ms": round(latency["worst"], 1) if latency["worst"] is not None else None,
    }


# What the record lists as decisions: those recorded as such, and the actions that were one (a new stage started
# is a "proceed", a stage rollback, kill switch, code or database rollback a "roll back").
DECIDING_ACTIONS = {
    EventKind.STAGE_ADVANCE: Decision.PROCEED,
    EventKind.STAGE_ROLLBACK: Decision.ROLLBACK,
    EventKind.KILL_SWITCH: Decision.ROLLBACK,
    EventKind.AUTO_ROLLBACK: Decision.ROLLBACK,
    EventKind.CODE_ROLLBACK: Decision.ROLLBACK,
    EventKind.DATABASE_RESTORE: Decision.ROLLBACK,
}


def record_decisions(record: DeploymentRecord) -> list[dict]:
    """The decisions (proceed, roll back, abort) taken during the record's window, oldest first, each with who,
    when, the stage and why; a batch inside a stage and a kill switch at stage off (the Phase 1 rehearsal) are no
    decision."""
    end = record.ended_at or timezone.now()
    events = RolloutEvent.objects.filter(
        kind__in=[EventKind.DECISION, *DECIDING_ACTIONS], created_at__gte=record.started_at, created_at__lte=end
    ).order_by("created_at", "id")[:200]
    decisions = []
    for event in events:
        batch = event.kind == EventKind.STAGE_ADVANCE and event.stage_before == event.stage_after
        rehearsal = event.kind == EventKind.KILL_SWITCH and event.stage_before == "off"
        if batch or rehearsal:
            continue
        if event.kind == EventKind.DECISION:
            decision, how = (event.after or {}).get("decision", ""), "recorded as a decision"
        else:
            decision, how = DECIDING_ACTIONS[event.kind], event.get_kind_display().lower()
        label = Decision(decision).label if decision in Decision.values else decision
        decisions.append({
            "at": timezone.localtime(event.created_at).isoformat(timespec="minutes"), "decision": decision,
            "label": label, "by": event.actor_name,
            "stage": event.stage_after if event.kind == EventKind.STAGE_ADVANCE else event.stage_before,
            "how": how, "reason": event.reason,
        })  # fmt: skip
    return decisions


def record_checklist(record: DeploymentRecord) -> dict:
    """Stage 4a's Internal Testing Checklist as it stood at the record's end (or now)."""
    return checklist.build(now=record.ended_at or timezone.now()).as_dict()
