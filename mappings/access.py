"""Who may see and who may change a bar's mappings (checked on the server for every request).

A bar manager holds ``mappings.manage_bar_mappings`` on the bars they run and may change those; support
and product users see every bar's mappings read-only; superusers may do everything. Any other bar is
answered 404, so a manager learns nothing about bars they do not run, whatever URL they type.
"""

from dataclasses import dataclass

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.http import Http404

from adminpanel.models import Bar
from adminpanel.permissions import MANAGE_BAR_MAPPINGS
from adminpanel.roles import can_read_all, managed_bars
from mappings.models import BarMappingScope


def guardian_content_type(obj) -> ContentType:
    """GUARDIAN_GET_CONTENT_TYPE hook: Bar (instance or class) → the mappings proxy's content type.

    Bar lives in the core app, so its own permissions would be labelled ``adminpanel.*``; the permission the
    design names, ``mappings.manage_bar_mappings``, is declared on the proxy ``BarMappingScope`` and guardian
    files Bar objects under that proxy's content type. Every other model keeps its ordinary content type."""
    model = obj if isinstance(obj, type) else type(obj)
    if issubclass(model, Bar):
        return ContentType.objects.get_for_model(BarMappingScope, for_concrete_model=False)
    return ContentType.objects.get_for_model(obj)


def viewable_bars(user):
    """Bars whose mappings the user may look at (a queryset, for the bar picker)."""
    return Bar.objects.all() if can_read_all(user) else managed_bars(user)


@dataclass(frozen=True)
class BarAccess:
    bar: Bar
    can_edit: bool


def bar_access(user, bar_id, *, write: bool = False) -> BarAccess:
    """The bar and what the user may do with it; 404 when they may not see it, 403 for a read-only write."""
    bar = Bar.objects.filter(pk=bar_id).first()
    if bar is None:
        raise Http404("No such bar.")
    can_edit = user.is_superuser or user.has_perm(MANAGE_BAR_MAPPINGS, bar)
    if not can_edit and not can_read_all(user):
        raise Http404("No such bar.")
    if write and not can_edit:
        raise PermissionDenied("You may look at this bar's mappings but not change them.")
    return BarAccess(bar=bar, can_edit=can_edit)
