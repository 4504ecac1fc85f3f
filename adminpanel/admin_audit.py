"""Auditing for the Django admin: every add, change, delete and object-permission grant made there is recorded
in `panel_events`, like the same change made through the panel's own pages."""

import datetime
import decimal
import uuid

from django.contrib.admin.utils import unquote
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404
from guardian.shortcuts import get_group_perms, get_user_perms

from adminpanel.audit import record_event
from adminpanel.models import Bar, PanelEvent, User

SECRET_FIELDS = {"password", "token_hash"}
# Longer text (an uploaded CSV kept by a mapping import) is recorded by its size, not copied into the trail.
LONG_TEXT = 2000


def snapshot(obj, *, many_to_many: tuple[str, ...] = ()) -> dict:
    """The object's concrete fields as JSON-safe values (secrets left out), and the named many-to-many fields
    as sorted lists of what they hold, in words (a group's permissions, a user's groups)."""
    data = {}
    for field in obj._meta.concrete_fields:
        if field.name in SECRET_FIELDS:
            continue
        value = field.value_from_object(obj)
        if isinstance(value, uuid.UUID | datetime.datetime | datetime.date | decimal.Decimal):
            value = str(value)
        elif isinstance(value, str) and len(value) > LONG_TEXT:
            value = f"({len(value):,} characters)"
        data[field.attname if field.is_relation else field.name] = value
    for name in many_to_many:
        data[name] = sorted(str(related) for related in getattr(obj, name).all())
    return data


def _m2m_in_form(obj, form) -> tuple[str, ...]:
    """The many-to-many fields the admin form edits (read-only ones are left out: nothing can change them)."""
    fields = form.fields if form is not None else {}
    return tuple(field.name for field in obj._meta.many_to_many if field.name in fields)


def pk_or_404(model, raw) -> object:
    """`raw` (a URL part) as `model`'s primary key; a malformed one (not a UUID, not a number, a NUL byte) is a
    404 rather than a ValidationError or a database error (a 500) from the query it would reach."""
    value = unquote(str(raw))
    if "\x00" in value:
        raise Http404("No object has this id.")
    try:
        return model._meta.pk.to_python(value)
    except (ValidationError, ValueError, TypeError, OverflowError) as exc:
        raise Http404("No object has this id.") from exc


def object_or_404(queryset, raw):
    """The object of `queryset` whose primary key is the URL part `raw`, or a 404."""
    found = queryset.filter(pk=pk_or_404(queryset.model, raw)).first()
    if found is None:
        raise Http404("No object has this id.")
    return found


def _bar_of(obj):
    if isinstance(obj, Bar):
        return obj
    return getattr(obj, "bar", None) if hasattr(obj, "bar_id") else None


def _label(obj) -> str:
    return obj._meta.label_lower


def audit_trail_references(objs) -> list[str]:
    """One line per object of `objs` that `panel_events` rows refer to (as bar or as actor), saying how many."""
    lines = []
    for field in PanelEvent._meta.concrete_fields:
        if not field.is_relation:
            continue
        ours = [obj for obj in objs if isinstance(obj, field.related_model)]
        if not ours:
            continue
        counts = {
            row[field.attname]: row["n"]
            for row in PanelEvent.objects.filter(**{f"{field.attname}__in": [obj.pk for obj in ours]})
            .values(field.attname)
            .annotate(n=models.Count("id"))
            .order_by()
        }
        for obj in ours:
            if counts.get(obj.pk):
                lines.append(
                    f"{counts[obj.pk]} audit trail event(s) naming {obj} as {field.verbose_name} — the trail is "
                    f"append-only: deactivate it instead of deleting it"
                )
    return lines


class AuditedAdminMixin:
    """Records admin adds, changes (before/after, many-to-many included), deletes, inline edits and guardian grants.

    The object's own event is written in `save_related`, after its many-to-many fields are saved, so a change of
    a group's permissions or a user's groups is seen; the admin runs both in one transaction.
    """

    def save_model(self, request, obj, form, change):
        if change:
            current = type(obj)._default_manager.get(pk=obj.pk)
            form._audit_before = snapshot(current, many_to_many=_m2m_in_form(obj, form))
        else:
            form._audit_before = None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        obj = form.instance
        before = getattr(form, "_audit_before", None)
        after = snapshot(obj, many_to_many=_m2m_in_form(obj, form))
        if before != after:
            action = "change" if change else "add"
            record_event(
                actor=request.user,
                action=f"admin.{action}.{_label(obj)}",
                target=obj,
                before=before,
                after=after,
                reason="Django admin",
                bar=_bar_of(obj),
            )

    def get_deleted_objects(self, objs, request):
        """Objects the append-only audit trail refers to (a bar it names, a user who acted) are protected: the
        trigger refuses the UPDATE that would unlink them, so the admin shows why instead of failing."""
        to_delete, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        return to_delete, model_count, perms_needed, [*protected, *audit_trail_references(objs)]

    def delete_model(self, request, obj):
        # Recorded first, in the admin's transaction: if the delete fails, the event rolls back with it.
        record_event(
            actor=request.user,
            action=f"admin.delete.{_label(obj)}",
            target=obj,
            before=snapshot(obj),
            reason="Django admin",
            bar=None if isinstance(obj, Bar) else _bar_of(obj),
        )
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)

    def save_formset(self, request, form, formset, change):
        model = formset.model
        pks = [f.instance.pk for f in formset.forms if f.instance.pk]
        before = {o.pk: snapshot(o) for o in model._default_manager.filter(pk__in=pks)}
        for instance in [f.instance for f in formset.deleted_forms if f.instance.pk]:
            record_event(
                actor=request.user,
                action=f"admin.delete.{_label(instance)}",
                target=instance,
                before=before.get(instance.pk),
                reason="Django admin",
                bar=_bar_of(instance),
            )
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            record_event(
                actor=request.user,
                action=f"admin.add.{_label(obj)}",
                target=obj,
                after=snapshot(obj),
                reason="Django admin",
                bar=_bar_of(obj),
            )
        for obj, _fields in formset.changed_objects:
            record_event(
                actor=request.user,
                action=f"admin.change.{_label(obj)}",
                target=obj,
                before=before.get(obj.pk),
                after=snapshot(obj),
                reason="Django admin",
                bar=_bar_of(obj),
            )


class AuditedGuardedAdminMixin(AuditedAdminMixin):
    """For GuardedModelAdmin: object-permission grants and revocations are audited too."""

    def obj_perms_manage_view(self, request, object_pk):
        object_or_404(self.get_queryset(request), object_pk)
        return super().obj_perms_manage_view(request, object_pk)

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        obj = object_or_404(self.get_queryset(request), object_pk)
        user = object_or_404(User.objects.all(), user_id)
        before = sorted(get_user_perms(user, obj).values_list("codename", flat=True))
        response = super().obj_perms_manage_user_view(request, obj.pk, user.pk)
        self._record_grant(request, obj, f"user:{user.username}", before, get_user_perms(user, obj))
        return response

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        obj = object_or_404(self.get_queryset(request), object_pk)
        group = object_or_404(Group.objects.all(), group_id)
        before = sorted(get_group_perms(group, obj).values_list("codename", flat=True))
        response = super().obj_perms_manage_group_view(request, obj.pk, group.pk)
        self._record_grant(request, obj, f"group:{group.name}", before, get_group_perms(group, obj))
        return response

    def _record_grant(self, request, obj, holder, before, after_queryset):
        after = sorted(after_queryset.values_list("codename", flat=True))
        if request.method == "POST" and before != after:
            record_event(
                actor=request.user,
                action=f"admin.permissions.{_label(obj)}",
                target=obj,
                before={"holder": holder, "permissions": before},
                after={"holder": holder, "permissions": after},
                reason="Django admin (object permissions)",
                bar=_bar_of(obj),
            )
