from django.contrib import admin
from guardian.admin import GuardedModelAdmin

from rollout.models import FeatureFlag


@admin.register(FeatureFlag)
class FeatureFlagAdmin(GuardedModelAdmin):
    list_display = ("key", "enabled_globally", "version", "updated_at")
    # Flips go through the rollout page, which checks the object permission and audits them.
    readonly_fields = (
        "key", "enabled_globally", "kill_switch_engaged", "allowed_bars", "version", "updated_at",
    )  # fmt: skip
