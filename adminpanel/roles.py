"""Who is who in the panel: the role groups, every role predicate the apps ask, and what the navigation shows
each user (DESIGN.md section 3). Object permissions (a bar, a flag) are asked with ``user.has_perm(perm, obj)``
where they are needed; the predicates here are the group-level answers."""

from dataclasses import dataclass
from functools import wraps

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from guardian.shortcuts import get_objects_for_user

from adminpanel.permissions import MANAGE_BAR_MAPPINGS

SUPPORT = "support"
PRODUCT = "product"
ROLE_GROUPS = (SUPPORT, PRODUCT)


def ensure_role_groups(**kwargs):
    """The `support` and `product` groups always exist (post_migrate)."""
    for name in ROLE_GROUPS:
        Group.objects.get_or_create(name=name)


@dataclass(frozen=True)
class Roles:
    is_support: bool
    is_product: bool
    is_superuser: bool
    manages_bars: bool

    @property
    def labels(self) -> list[str]:
        labels = []
        if self.is_superuser:
            labels.append("superuser")
        if self.is_product:
            labels.append("product owner")
        if self.is_support:
            labels.append("support")
        if self.manages_bars:
            labels.append("bar manager")
        return labels


def managed_bars(user):
    """Bars on which the user holds `mappings.manage_bar_mappings` (superusers: all bars)."""
    from adminpanel.models import Bar

    return get_objects_for_user(user, MANAGE_BAR_MAPPINGS, klass=Bar.objects.all(), accept_global_perms=False)


def manages_any_bar(user) -> bool:
    """Whether ``managed_bars(user)`` has any bar, asked with two small EXISTS (every page asks it, through the
    navigation: guardian's ``get_objects_for_user`` builds the same answer at several times the cost)."""
    from adminpanel.models import Bar, BarGroupObjectPermission, BarUserObjectPermission

    if user.is_superuser:
        return True
    app_label, codename = MANAGE_BAR_MAPPINGS.split(".")
    held = {"permission__codename": codename, "permission__content_type__app_label": app_label}
    existing = Bar.objects.values("pk")
    return (
        BarUserObjectPermission.objects.filter(user=user, content_object_id__in=existing, **held).exists()
        or BarGroupObjectPermission.objects.filter(
            group__in=user.groups.all(), content_object_id__in=existing, **held
        ).exists()
    )


def roles_of(user) -> Roles:
    if not user.is_authenticated:
        return Roles(False, False, False, False)
    cached = getattr(user, "_panel_roles", None)
    if cached is not None:
        return cached
    groups = set(user.groups.values_list("name", flat=True))
    roles = Roles(
        is_support=SUPPORT in groups,
        is_product=PRODUCT in groups,
        is_superuser=user.is_superuser,
        manages_bars=manages_any_bar(user),
    )
    user._panel_roles = roles
    return roles


def can_read_all(user) -> bool:
    """Support staff, product owners and superusers read every log, check, run, rollout page and bar (read-only
    unless another permission says more)."""
    roles = roles_of(user)
    return roles.is_support or roles.is_product or roles.is_superuser


def can_operate(user) -> bool:
    """Product owners and superusers run things: backfills, validations, health runs, phase windows, records."""
    roles = roles_of(user)
    return roles.is_product or roles.is_superuser


def can_handle_incidents(user) -> bool:
    """Support staff, product owners and superusers open, update, acknowledge and resolve incidents and send the
    communication template (DESIGN.md 4c); editing the contact chain is for admins, in the Django admin."""
    return bool(getattr(user, "is_active", False)) and can_read_all(user)


def read_all_required(view):
    """403 for anyone who is not support, product or superuser (checked on every request)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_read_all(request.user):
            raise PermissionDenied("This page is for support staff and product owners.")
        return view(request, *args, **kwargs)

    return wrapped


def operator_required(view):
    """403 for anyone who is not a product owner or superuser (checked on every request)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not can_operate(request.user):
            raise PermissionDenied("Only product owners may do this.")
        return view(request, *args, **kwargs)

    return wrapped


def navigation(request):
    """Template context: the role flags the base layout uses to show each role only what it may use."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"panel_roles": roles_of(user)}
