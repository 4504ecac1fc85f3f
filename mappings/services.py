"""Changing a bar's mappings: create, update, delete, CSV import; and recording refused resolutions.

Every change takes the bar's mapping lock (a transaction-scoped advisory lock, so the ``bars`` row is not
locked), validates with the model's rules, writes, and appends its history to ``panel_events`` (who, when,
before, after) in the same transaction: a refused change writes nothing.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from adminpanel import db_sessions
from adminpanel.audit import record_event
from adminpanel.models import AuditLog, AuthUser, PanelEvent
from adminpanel.models.bartender import login_of
from adminpanel.pickers import fold, user_label
from mappings.mapping_csv import CsvRow, RowError, decode_upload, read_rows
from mappings.models import MappingImport, ServerNameMapping
from mappings.models.mapping import DUPLICATE_NAME_MESSAGE, eligible_members, look_alike_message
from mappings.names import display_server_name, name_skeleton, normalize_server_name, server_name_problem
from mappings.resolve import ServerNameResolutionError

MAPPING_TARGET = ServerNameMapping._meta.label_lower
CREATED, UPDATED, DELETED = "mapping.create", "mapping.update", "mapping.delete"
SERVER_NAME_MAX_LENGTH = ServerNameMapping._meta.get_field("server_name").max_length


class ImportRefused(Exception):
    """An import whose plan has bad rows (nothing was applied); `plan` says which and why."""

    def __init__(self, plan):
        super().__init__(f"{len(plan.errors)} bad rows")
        self.plan = plan


def snapshot(mapping: ServerNameMapping) -> dict:
    """What history keeps of a mapping, before and after a change."""
    return {
        "server_name": mapping.server_name,
        "normalized_name": normalize_server_name(mapping.server_name),
        "user_id": str(mapping.user_id),
        "username": mapping.user.username,
    }


def _lock_bar_mappings(bar_id) -> None:
    db_sessions.xact_lock(f"mappings:{bar_id}")


def _save(mapping: ServerNameMapping) -> None:
    try:
        with transaction.atomic():
            mapping.save()
    except IntegrityError as exc:
        if "server_name_mappings_unique_normalized" in str(exc):
            raise ValidationError({"server_name": DUPLICATE_NAME_MESSAGE}) from exc
        raise ValidationError("The mapping changed meanwhile; reload the page and try again.") from exc


def create_mapping(*, bar, server_name: str, user: AuthUser | None, actor, reason: str = "") -> ServerNameMapping:
    """Map `server_name` to `user` in `bar`; `ValidationError` (by field) when a rule refuses it."""
    with transaction.atomic():
        _lock_bar_mappings(bar.pk)
        mapping = ServerNameMapping(bar=bar, server_name=server_name or "", user=user)
        mapping.full_clean()
        _save(mapping)
        record_event(actor=actor, action=CREATED, target=mapping, after=snapshot(mapping), bar=bar, reason=reason)
    return mapping


def update_mapping(
    *, mapping: ServerNameMapping, server_name: str, user: AuthUser | None, actor, reason: str = ""
) -> ServerNameMapping:
    """Rename and/or remap a mapping; an edit that changes nothing writes nothing."""
    with transaction.atomic():
        _lock_bar_mappings(mapping.bar_id)
        current = ServerNameMapping.objects.select_related("user", "bar").filter(pk=mapping.pk).first()
        if current is None:
            raise ValidationError("This mapping was deleted meanwhile; reload the page.")
        before = snapshot(current)
        current.server_name = server_name or ""
        current.user = user
        current.full_clean()
        after = snapshot(current)
        if after == before:
            return current
        current.updated_at = timezone.now()
        _save(current)
        record_event(
            actor=actor, action=UPDATED, target=current, before=before, after=after, bar=current.bar, reason=reason
        )
    return current


def delete_mapping(*, mapping: ServerNameMapping, actor, reason: str = "") -> None:
    """Remove a mapping (the name stops resolving at once); history keeps what it was."""
    with transaction.atomic():
        _lock_bar_mappings(mapping.bar_id)
        current = ServerNameMapping.objects.select_related("user", "bar").filter(pk=mapping.pk).first()
        if current is None:
            return
        record_event(
            actor=actor, action=DELETED, target=current, before=snapshot(current), bar=current.bar, reason=reason
        )
        current.delete()


def record_resolution_refusal(*, bar, name, error: ServerNameResolutionError, source: str, client=None) -> AuditLog:
    """One `audit_logs` row per refused resolution, which the health checks count as the error rate."""
    if isinstance(name, str):
        name = name.replace("\x00", "\ufffd")  # PostgreSQL text and jsonb cannot hold NUL
    return AuditLog.objects.create(
        bar=bar,
        level=settings.MAPPINGS_RESOLUTION_AUDIT_LEVEL,
        error_type="server_id_resolution",
        error_message=f"server_id resolution failed ({error.code}): {error.message}"[:2000],
        payload={
            "code": error.code,
            "name": name[:200] if isinstance(name, str) else None,
            "source": source,
            "client": getattr(client, "name", None),
            **({"detail": error.detail} if error.detail else {}),
        },
    )


# --- CSV import ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedRow:
    line: int
    server_name: str
    user: AuthUser
    mapping: ServerNameMapping | None = None  # the existing mapping a change or an unchanged row concerns
    given: str = ""  # how the file named the member (a login or a display name)

    @property
    def member_label(self) -> str:
        return user_label(self.user)

    @property
    def given_by_display_name(self) -> bool:
        return bool(self.given) and self.given != self.user.username


class MemberFinder:
    """Finds the member a CSV cell names, as managers write it: the login (username, any case), the display
    name (case, spacing and accents ignored) or the picker's label "Display Name (login)". A login written
    exactly wins; a display name two members share, or one member's display name that is another's login in
    another case, is refused with the candidates (the preview shows whom every row maps to)."""

    def __init__(self, users):
        self.by_login: dict[str, AuthUser] = {}
        self.by_folded_login: dict[str, list[AuthUser]] = {}
        self.by_name: dict[str, list[AuthUser]] = {}
        for user in users:
            self.by_login[user.username] = user
            self.by_folded_login.setdefault(user.username.casefold(), []).append(user)
            if user.display_name:
                self.by_name.setdefault(_name_key(user.display_name), []).append(user)

    def find(self, text: str) -> tuple[AuthUser | None, str | None]:
        """(the member, None), or (None, why not) when the cell is ambiguous, or (None, None) when unknown."""
        text = " ".join((text or "").split())
        if text in self.by_login:  # a login written exactly is unique: it wins
            return self.by_login[text], None
        by_login = self.by_folded_login.get(text.casefold(), [])
        labelled = _USER_LABEL.match(text)
        if labelled and labelled["login"] in self.by_login:
            user = self.by_login[labelled["login"]]
            if _name_key(user.display_name or user.username) == _name_key(labelled["name"]):
                return user, None
        by_name = self.by_name.get(_name_key(text), [])
        candidates = list({u.pk: u for u in by_login + by_name}.values())
        if len(candidates) == 1:
            return candidates[0], None
        if not candidates:
            return None, None
        labels = sorted(user_label(u) for u in candidates)
        return None, (
            f"“{text}” could mean {len(candidates)} members: {', '.join(labels)}. "
            f"Write the login instead, or the name with the login in brackets, e.g. “{labels[0]}”."
        )


_USER_LABEL = re.compile(r"^(?P<name>.*\S)\s+\((?P<login>[^()\s]+)\)$")


def _name_key(name: str) -> str:
    return fold(" ".join(unicodedata.normalize("NFKC", name or "").split()))


@dataclass
class ImportPlan:
    adds: list[PlannedRow] = field(default_factory=list)
    changes: list[PlannedRow] = field(default_factory=list)
    unchanged: list[PlannedRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def summary(self) -> dict:
        return {
            "add": len(self.adds),
            "change": len(self.changes),
            "unchanged": len(self.unchanged),
            "errors": len(self.errors),
        }


def plan_import(*, bar, rows: list[CsvRow], row_errors: list[RowError]) -> ImportPlan:
    """Sort each row into add / change / unchanged / bad (with its reason), against the bar as it is now."""
    plan = ImportPlan(errors=list(row_errors))
    members = {m.user.username: m.user for m in eligible_members(bar.pk).select_related("user")}
    finder = MemberFinder(members.values())
    existing = {m.normalized_name: m for m in ServerNameMapping.objects.filter(bar=bar).select_related("user")}
    found = {row.username: finder.find(row.username) for row in rows if row.username}

    def member(username: str) -> AuthUser | None:
        return found[username][0]

    missing = {row.username for row in rows if row.username and member(row.username) is None}
    known_elsewhere = set(
        AuthUser.objects.annotate(login=login_of()).filter(login__in=missing).values_list("login", flat=True)
    )
    # Look-alikes: a new name that reads like a mapping of the bar, or like another line of the file.
    existing_looks: dict[str, ServerNameMapping] = {}
    for key, mapping in existing.items():
        existing_looks.setdefault(name_skeleton(key), mapping)
    first_line: dict[str, int] = {}
    file_looks: dict[str, tuple[int, str, str]] = {}
    for row in rows:
        name = display_server_name(row.server_name)
        key = normalize_server_name(name)
        problem = server_name_problem(key)
        if problem is None and len(name) > SERVER_NAME_MAX_LENGTH:
            problem = f"A server name has at most {SERVER_NAME_MAX_LENGTH} characters as typed."
        if problem is None and key in first_line:
            problem = f"Duplicate of line {first_line[key]} (names match whatever their case or spacing)."
        elif problem is None:
            first_line[key] = row.line
            problem = _look_alike_problem(name, key, existing, existing_looks, file_looks, row.line)
        user = member(row.username) if row.username else None
        if problem is None and not row.username:
            problem = "A username is required."
        elif problem is None and user is None:
            problem = found[row.username][1] or (
                f"“{row.username}” is not an active server or manager of this bar."
                if row.username in known_elsewhere
                else f"No active server or manager of this bar has the login or display name “{row.username}”."
            )
        if problem:
            plan.errors.append(RowError(row.line, problem, row.text))
            continue
        current = existing.get(key)
        planned = PlannedRow(row.line, name, user, current, given=row.username)
        if current is None:
            plan.adds.append(planned)
        elif current.user_id == user.pk and current.server_name == name:
            plan.unchanged.append(planned)
        else:
            plan.changes.append(planned)
    plan.errors.sort(key=lambda error: error.line)
    return plan


def _look_alike_problem(name, key, existing, existing_looks, file_looks, line) -> str | None:
    """Why a row's name is refused as a look-alike (of a mapping or of an earlier line), or None."""
    skeleton = name_skeleton(key)
    twin = existing_looks.get(skeleton)
    if key not in existing and twin is not None and twin.normalized_name != key:
        return look_alike_message(name, twin.server_name, twin.user.username)
    earlier = file_looks.setdefault(skeleton, (line, key, name))
    if earlier[1] != key:
        return (
            f"“{name}” looks like “{earlier[2]}” on line {earlier[0]}: names that read the same cannot both be mapped."
        )
    return None


def read_import(*, bar, text: str) -> ImportPlan:
    """Read a CSV's rows and plan their import into a bar's mappings (nothing is written)."""
    rows, row_errors = read_rows(text, max_rows=settings.MAPPINGS_IMPORT_MAX_ROWS)
    return plan_import(bar=bar, rows=rows, row_errors=row_errors)


def preview_import(*, bar, actor, filename: str, data: bytes) -> tuple[ImportPlan, MappingImport | None]:
    """Read an upload and plan it; a clean plan is kept (its text) for `apply_import`. Raises `CsvFileError`."""
    text = decode_upload(data, max_bytes=settings.MAPPINGS_IMPORT_MAX_BYTES)
    plan = read_import(bar=bar, text=text)
    pending = None
    if plan.ok:
        stale = timezone.now() - timedelta(hours=settings.MAPPINGS_IMPORT_TTL_HOURS)
        MappingImport.objects.filter(bar=bar, applied_at__isnull=True, created_at__lt=stale).delete()
        pending = MappingImport.objects.create(
            bar=bar, created_by=actor, filename=(filename or "")[:255], content=text, summary=plan.summary
        )
    return plan, pending


def apply_import(*, mapping_import: MappingImport, actor) -> ImportPlan:
    """Apply a previewed import all or nothing, re-planned against the bar as it is now. Raises `ImportRefused`."""
    bar = mapping_import.bar
    with transaction.atomic():
        _lock_bar_mappings(bar.pk)
        pending = MappingImport.objects.select_for_update().get(pk=mapping_import.pk)
        if pending.applied_at is not None:
            raise ImportRefused(ImportPlan(errors=[RowError(0, "This import was already applied.")]))
        plan = read_import(bar=bar, text=pending.content)
        if not plan.ok:
            raise ImportRefused(plan)
        now = timezone.now()
        reason = f"CSV import {pending.filename or pending.pk}"
        added = [
            ServerNameMapping(
                bar=bar,
                server_name=row.server_name,
                normalized_name=normalize_server_name(row.server_name),
                user=row.user,
                created_at=now,
                updated_at=now,
            )
            for row in plan.adds
        ]
        changed, befores = [], []
        for row in plan.changes:
            mapping = row.mapping
            befores.append(snapshot(mapping))
            mapping.server_name, mapping.user = row.server_name, row.user
            mapping.updated_at = now
            changed.append(mapping)
        try:
            with transaction.atomic():
                ServerNameMapping.objects.bulk_create(added, batch_size=1000)
                ServerNameMapping.objects.bulk_update(
                    changed, ["server_name", "user", "updated_at"], batch_size=500
                )
        except IntegrityError as exc:
            raise ImportRefused(
                ImportPlan(errors=[RowError(0, "The bar's mappings changed meanwhile; preview the file again.")])
            ) from exc
        events = [_history_event(actor, CREATED, m, bar, None, snapshot(m), reason, now) for m in added]
        events += [
            _history_event(actor, UPDATED, m, bar, before, snapshot(m), reason, now)
            for m, before in zip(changed, befores, strict=True)
        ]
        PanelEvent.objects.bulk_create(events, batch_size=1000)
        pending.applied_at = now
        pending.summary = plan.summary
        pending.save(update_fields=["applied_at", "summary"])
        record_event(actor=actor, action="mapping.import", target=pending, after=plan.summary, bar=bar, reason=reason)
    return plan


def _history_event(actor, action, mapping, bar, before, after, reason, when) -> PanelEvent:
    """The row `record_event` would write, unsaved, so an import of thousands of rows inserts in bulk."""
    return PanelEvent(
        actor=actor,
        actor_name=actor.username,
        action=action,
        target_type=MAPPING_TARGET,
        target_id=str(mapping.pk),
        bar=bar,
        before=before,
        after=after,
        reason=reason,
        created_at=when,
    )
