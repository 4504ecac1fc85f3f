"""Who may do what on the rollout page (DESIGN.md section 3); every view and service asks these.

- flipping a flag or editing its allow-list: the object permission `rollout.flip_flag` on that flag;
- advancing, pausing, resuming: a product owner holding `flip_flag` on every flag (an advance turns both on);
- the kill switch and stage rollback: `rollout.trigger_rollback`, model-wide or on every flag;
- overriding a gate: `rollout.override_gate`, model-wide or on every flag;
- applying or rolling back the runbook's migrations (Phase 2): `rollout.apply_migration`;
- reading (page, history, CSV, records): product owners, support, superusers; bar managers see nothing here.
"""

from guardian.core import ObjectPermissionChecker

from adminpanel.permissions import APPLY_MIGRATION, FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from adminpanel.request_memo import memoized
from adminpanel.roles import can_operate, can_read_all, roles_of
from rollout.models import FeatureFlag


def _on_every_flag(user, perm: str) -> bool:
    flags = list(FeatureFlag.objects.all())
    return bool(flags) and all(user.has_perm(perm, flag) for flag in flags)


def can_flip(user, flag: FeatureFlag) -> bool:
    return user.is_active and user.has_perm(FLIP_FLAG, flag)


def can_operate_stages(user) -> bool:
    roles = roles_of(user)
    return (roles.is_product or roles.is_superuser) and _on_every_flag(user, FLIP_FLAG)


def can_override_gates(user) -> bool:
    return user.is_active and (user.has_perm(OVERRIDE_GATE) or _on_every_flag(user, OVERRIDE_GATE))


def can_apply_migrations(user) -> bool:
    """Phase 2: applying or rolling back the runbook's migrations on BarTender's database (model-wide permission)."""
    return user.is_active and user.has_perm(APPLY_MIGRATION)


def can_trigger_rollback(user) -> bool:
    return user.is_active and (user.has_perm(TRIGGER_ROLLBACK) or _on_every_flag(user, TRIGGER_ROLLBACK))


def capabilities(user) -> dict[str, bool]:
    """The answers of can_operate_stages, can_override_gates and can_trigger_rollback at once, the flags' object
    permissions read in one go (the cockpit asks all three on every refresh; tests keep them equal); once per page."""
    return memoized(f"capabilities:{user.pk}", lambda: _capabilities(user))


def _capabilities(user) -> dict[str, bool]:
    flags = list(FeatureFlag.objects.all())
    checker = ObjectPermissionChecker(user)
    if user.is_active and flags:
        checker.prefetch_perms(flags)

    def on_every_flag(perm: str) -> bool:
        return bool(flags) and all(checker.has_perm(perm, flag) for flag in flags)

    roles = roles_of(user)
    return {
        "stages": (roles.is_product or roles.is_superuser) and on_every_flag(FLIP_FLAG),
        "override": user.is_active and (user.has_perm(OVERRIDE_GATE) or on_every_flag(OVERRIDE_GATE)),
        "rollback": user.is_active and (user.has_perm(TRIGGER_ROLLBACK) or on_every_flag(TRIGGER_ROLLBACK)),
    }


# Reading the rollout pages and keeping deployment records are the panel-wide reader and operator roles.
can_view = can_read_all
can_manage_records = can_operate
