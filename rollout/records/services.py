"""Deployment record write paths: creating, editing and signing a record (two different people)."""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from rollout import permissions
from rollout.errors import InvalidRequest, NotAllowed
from rollout.events.services import _record
from rollout.models import DeploymentRecord, EventKind, RecordStatus
from rollout.records import facts
from rollout.records.selectors import record_snapshot

# --- Deployment records ---------------------------------------------------------------------------
# What a person writes on a record; the checklist (backup, tests, flags off, build) fills itself from the
# cockpit's facts (rollout.records.facts.fill_from_cockpit) and is never taken from a form or a caller.
RECORD_FIELDS = (
    "date", "deployer", "reviewer", "started_at", "ended_at", "issues_encountered", "status",
)  # fmt: skip
FILLED_FIELDS = ("backup_location", "tests_passing", "flags_off", "code_builds")
TWO_PEOPLE = "The deployer and the reviewer must be two different people."


def _record_values(record: DeploymentRecord) -> dict:
    values = {}
    for name in RECORD_FIELDS + FILLED_FIELDS:
        value = getattr(record, f"{name}_id" if name in ("deployer", "reviewer") else name)
        values[name] = value if isinstance(value, bool | int | None) else str(value)
    return values


def _clean_record(record: DeploymentRecord) -> None:
    if record.deployer_id and record.deployer_id == record.reviewer_id:
        raise ValidationError({"reviewer": TWO_PEOPLE})
    record.full_clean()


def create_record(*, actor, **values) -> DeploymentRecord:
    """A new deployment record (runbook template); the deployer and the reviewer must differ. Its window starts
    with the deployment's first Phase 1 step unless a start is given; its checklist fills itself."""
    with transaction.atomic():
        if not permissions.can_manage_records(actor):
            raise NotAllowed("Only product owners keep deployment records.")
        values = {name: value for name, value in values.items() if name in RECORD_FIELDS}
        if not values.get("started_at"):
            values["started_at"] = facts.deployment_start() or timezone.now()
        record = DeploymentRecord(**values)
        facts.fill_from_cockpit(record)
        _clean_record(record)
        record.save()
        _record(kind=EventKind.RECORD, actor=actor, target=record, record=record, after=_record_values(record))
        return record


def update_record(*, actor, record_id: int, **values) -> DeploymentRecord:
    """Edit a record that nobody has signed yet (its checklist is read again from the facts)."""
    with transaction.atomic():
        if not permissions.can_manage_records(actor):
            raise NotAllowed("Only product owners keep deployment records.")
        record = DeploymentRecord.objects.select_for_update().get(pk=record_id)
        if record.deployer_signed_at or record.reviewer_signed_at:
            raise InvalidRequest("A signed record cannot be edited.")
        before = _record_values(record)
        for name, value in values.items():
            if name in RECORD_FIELDS:
                setattr(record, name, value)
        if not record.started_at:
            record.started_at = facts.deployment_start() or timezone.now()
        facts.fill_from_cockpit(record)
        _clean_record(record)
        record.save()
        after = _record_values(record)
        if after != before:
            _record(kind=EventKind.RECORD, actor=actor, target=record, record=record, before=before, after=after)
        return record


def signing_hint(record: DeploymentRecord, user) -> str:
    """Why `user` cannot sign the record now ("" when they can): shown beside the sign button."""
    if record.is_signed:
        return "Both have signed: the record is frozen."
    if user.pk not in (record.deployer_id, record.reviewer_id):
        return f"Only the deployer ({record.deployer}) and the reviewer ({record.reviewer}) sign this record."
    if (user.pk == record.deployer_id and record.deployer_signed_at) or (
        user.pk == record.reviewer_id and record.reviewer_signed_at
    ):
        return "You have signed; the other person signs too."
    if record.status == RecordStatus.IN_PROGRESS:
        return "Set the status (successful or rolled back) first: edit the record."
    return ""


def sign_record(*, actor, record_id: int) -> DeploymentRecord:
    """The deployer or the reviewer signs; with both signatures the timeline and monitoring are frozen."""
    with transaction.atomic():
        record = DeploymentRecord.objects.select_for_update().get(pk=record_id)
        if not record.is_signed:
            facts.fill_from_cockpit(record)
        if actor.pk == record.deployer_id:
            role, field_name = "deployer", "deployer_signed_at"
        elif actor.pk == record.reviewer_id:
            role, field_name = "reviewer", "reviewer_signed_at"
        else:
            raise NotAllowed("Only the record's deployer or reviewer may sign it.")
        if record.deployer_id == record.reviewer_id:
            raise InvalidRequest(TWO_PEOPLE)
        if record.status == RecordStatus.IN_PROGRESS:
            raise InvalidRequest("Set the status (successful or rolled back) before signing.")
        now = timezone.now()
        if getattr(record, field_name):
            raise InvalidRequest(f"The {role} has already signed.")
        setattr(record, field_name, now)
        if record.is_signed:
            record.snapshot = record_snapshot(record)
        record.save()
        _record(
            kind=EventKind.RECORD, actor=actor, target=record, record=record,
            after={"signed_as": role, "status": record.status},
        )  # fmt: skip
        return record
