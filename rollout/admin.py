from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from adminpanel.admin_audit import AuditedGuardedAdminMixin
from rollout.models import FeatureFlag


@admin.register(FeatureFlag)
class FeatureFlagAdmin(AuditedGuardedAdminMixin, GuardedModelAdmin):
    """Only the object-permission screens (who may flip which flag, audited) are for use here.

    The two flags are reference data created by migrations: an admin "add" made a flag with an empty key (a
    500 on the rollout page, ``"": false`` sent to every device), and deleting one would drop its allow-list
    and history. Flips go through the rollout page, which checks the object permission and audits them.
    """

    list_display = ("key", "enabled_globally", "version", "updated_at")
    readonly_fields = (
        "key", "enabled_globally", "kill_switch_engaged", "allowed_bars", "version", "updated_at",
    )  # fmt: skip

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
