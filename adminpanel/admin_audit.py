"""Auditing for the Django admin: every add, change, delete and object-permission grant made there is recorded
in `panel_events`, like the same change made through the panel's own pages."""

import datetime
import decimal
import uuid

from django.contrib.auth.models import Group
from django.shortcuts import get_object_or_404
from guardian.shortcuts import get_group_perms, get_user_perms

from adminpanel.audit import record_event
from adminpanel.models import Bar, User

SECRET_FIELDS = {"password", "token_hash"}


def snapshot(obj) -> dict:
    """The object's concrete fields as JSON-safe values (secrets left out)."""
    data = {}
    for field in obj._meta.concrete_fields:
        if field.name in SECRET_FIELDS:
            continue
        value = field.value_from_object(obj)
        if isinstance(value, uuid.UUID | datetime.datetime | datetime.date | decimal.Decimal):
            value = str(value)
        data[field.attname if field.is_relation else field.name] = value
    return data


def _bar_of(obj):
    if isinstance(obj, Bar):
        return obj
    return getattr(obj, "bar", None) if hasattr(obj, "bar_id") else None


def _label(obj) -> str:
    return obj._meta.label_lower


class AuditedAdminMixin:
    """Records admin adds, changes (before/after), deletes, inline edits and guardian grants."""

    def save_model(self, request, obj, form, change):
        before = snapshot(type(obj)._default_manager.get(pk=obj.pk)) if change else None
        super().save_model(request, obj, form, change)
        after = snapshot(obj)
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

    def obj_perms_manage_user_view(self, request, object_pk, user_id):
        obj = get_object_or_404(self.get_queryset(request), pk=object_pk)
        user = get_object_or_404(User, pk=user_id)
        before = sorted(get_user_perms(user, obj).values_list("codename", flat=True))
        response = super().obj_perms_manage_user_view(request, object_pk, user_id)
        self._record_grant(request, obj, f"user:{user.username}", before, get_user_perms(user, obj))
        return response

    def obj_perms_manage_group_view(self, request, object_pk, group_id):
        obj = get_object_or_404(self.get_queryset(request), pk=object_pk)
        group = get_object_or_404(Group, pk=group_id)
        before = sorted(get_group_perms(group, obj).values_list("codename", flat=True))
        response = super().obj_perms_manage_group_view(request, object_pk, group_id)
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
