"""One demo login per role, for the bring-up command."""

from dataclasses import dataclass

from django.contrib.auth.models import Group, Permission
from django.db import transaction
from guardian.shortcuts import assign_perm

from adminpanel.models import Bar, BarMember, MemberRole, User
from adminpanel.permissions import FLIP_FLAG, MANAGE_BAR_MAPPINGS
from adminpanel.roles import PRODUCT, SUPPORT, ensure_role_groups
from monitoring.models import Contact, ContactTier
from monitoring.models.incidents import ensure_contact_tiers
from rollout.models import FeatureFlag, ensure_default_flags

# One reachable person per tier of the runbook's contact chain, so incidents tell someone from the first run
# (mail goes to the console unless EMAIL_HOST is set). Admins replace them in the Django admin.
DEMO_CONTACTS = {
    1: ("Dev on call (demo)", "dev-oncall@example.com", "+225 07 00 00 01"),
    2: ("DBA on call (demo)", "dba-oncall@example.com", "+225 07 00 00 02"),
    3: ("Product lead (demo)", "product-lead@example.com", "+225 07 00 00 03"),
}


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    can: str


def ensure_demo_logins(*, password: str, managed_bar_count: int = 3) -> list[DemoLogin]:
    """Create or refresh the demo accounts (password reset each time) and return what each may do."""
    ensure_role_groups()
    ensure_default_flags()
    ensure_contact_tiers()
    with transaction.atomic():
        for tier in ContactTier.objects.filter(position__in=DEMO_CONTACTS, contacts__isnull=True):
            name, email, phone = DEMO_CONTACTS[tier.position]
            Contact.objects.create(tier=tier, name=name, email=email, phone=phone)
        admin = _user("admin", "Ada Admin", password, is_superuser=True, is_staff=True)
        support = _user("support", "Sam Support", password)
        support.groups.add(Group.objects.get(name=SUPPORT))
        product = _user("product", "Pat Product", password)
        product.groups.add(Group.objects.get(name=PRODUCT))
        for flag in FeatureFlag.objects.all():
            assign_perm(FLIP_FLAG, product, flag)
        product.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label="rollout", codename__in=["trigger_rollback", "override_gate"]
            )
        )
        manager = _user("manager", "Max Manager", password)
        bars = list(Bar.objects.order_by("-is_internal", "name")[:managed_bar_count])
        for bar in bars:
            BarMember.objects.update_or_create(
                bar=bar, user=manager, defaults={"role": MemberRole.MANAGER, "is_active": True}
            )
            assign_perm(MANAGE_BAR_MAPPINGS, manager, bar)
    bar_names = ", ".join(bar.name for bar in bars) or "no bars yet (run seed_demo first)"
    return [
        DemoLogin(admin.username, "superuser", "everything, including the Django admin"),
        DemoLogin(support.username, "support", "read every log, check and record"),
        DemoLogin(product.username, "product owner", "flip both flags, advance stages, kill switch"),
        DemoLogin(manager.username, "bar manager", f"edit the server names of {bar_names}"),
    ]


def _user(username: str, display_name: str, password: str, **flags) -> User:
    user, _ = User.objects.get_or_create(username=username, defaults={"display_name": display_name, **flags})
    user.set_password(password)
    user.is_active = True
    user.save()
    return user
