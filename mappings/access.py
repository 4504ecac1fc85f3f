"""Who may see and who may change a bar's mappings (checked on the server for every request).

A bar manager holds ``mappings.manage_bar_mappings`` on the bars they run and may change those; support
and product users see every bar's mappings read-only; superusers may do everything. Any other bar is
answered 404, so a manager learns nothing about bars they do not run, whatever URL they type.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

from adminpanel.models import Bar
from adminpanel.permissions import MANAGE_BAR_MAPPINGS
from adminpanel.roles import managed_bars, roles_of


def sees_all_bars(user) -> bool:
    roles = roles_of(user)
    return roles.is_superuser or roles.is_support or roles.is_product


def viewable_bars(user):
    """Bars whose mappings the user may look at (a queryset, for the bar picker)."""
    return Bar.objects.all() if sees_all_bars(user) else managed_bars(user)


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
    if not can_edit and not sees_all_bars(user):
        raise Http404("No such bar.")
    if write and not can_edit:
        raise PermissionDenied("You may look at this bar's mappings but not change them.")
    return BarAccess(bar=bar, can_edit=can_edit)
