"""Feature flags of the Mode Switching rollout (the full rollout model arrives with the rollout issue)."""

from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from adminpanel.models import Bar

ENABLE_SWITCHING_MODE = "ENABLE_SWITCHING_MODE"
SHOW_SWITCHING_MODE_UI = "SHOW_SWITCHING_MODE_UI"
DEFAULT_FLAGS = {
    ENABLE_SWITCHING_MODE: "Server resolution and server_id on new sales.",
    SHOW_SWITCHING_MODE_UI: "The Mode Switching screens in the BarTender app.",
}


class FeatureFlag(models.Model):
    key = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    enabled_globally = models.BooleanField(default=False)
    allowed_bars = models.ManyToManyField(Bar, blank=True, related_name="feature_flags", db_table="feature_flag_bars")
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "feature_flags"
        ordering = ["key"]
        permissions = [
            ("flip_flag", "Can flip this feature flag"),
            ("trigger_rollback", "Can pull the kill switch (runbook rollback option A)"),
            ("override_gate", "Can override a closed rollout gate"),
        ]

    def __str__(self):
        return self.key


class FeatureFlagUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(FeatureFlag, on_delete=models.CASCADE)


class FeatureFlagGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(FeatureFlag, on_delete=models.CASCADE)


def ensure_default_flags(**kwargs):
    """Both runbook flags exist, and start OFF (runbook 1.3)."""
    for key, description in DEFAULT_FLAGS.items():
        FeatureFlag.objects.get_or_create(key=key, defaults={"description": description})
