"""The feature flags: their state, allow-lists, per-flag permissions, and the two flags the app reads."""

from django.db import models
from django.utils import timezone
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from adminpanel.models import Bar
from rollout.stages.models import RolloutState

ENABLE_SWITCHING_MODE = "ENABLE_SWITCHING_MODE"
SHOW_SWITCHING_MODE_UI = "SHOW_SWITCHING_MODE_UI"
DEFAULT_FLAGS = {
    ENABLE_SWITCHING_MODE: "Server resolution and server_id on new sales.",
    SHOW_SWITCHING_MODE_UI: "The Mode Switching screens in the BarTender app.",
}


class FlagState(models.TextChoices):
    """What a flag's two switches mean for the bars (DESIGN.md section 4)."""

    OFF = "off", "Off for every bar"
    ALLOW_LIST = "allow_list", "On for allow-listed bars only"
    GLOBAL = "global", "On for every bar"


class FeatureFlag(models.Model):
    key = models.CharField(max_length=64, unique=True)
    description = models.TextField(blank=True)
    enabled_globally = models.BooleanField(default=False)
    # Runbook Option A: the kill switch turns the flag off for every bar but keeps the allow-list, so that
    # releasing it restores the rollout exactly as it was.
    kill_switch_engaged = models.BooleanField(default=False)
    allowed_bars = models.ManyToManyField(
        Bar, blank=True, related_name="feature_flags", db_table="feature_flag_bars", db_constraint=False
    )
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "feature_flags"
        ordering = ["key"]
        permissions = [
            ("flip_flag", "Can flip this feature flag"),
            ("trigger_rollback", "Can pull the kill switch (runbook rollback option A)"),
            ("override_gate", "Can override a closed rollout gate"),
            ("apply_migration", "Can apply and roll back the runbook's migrations (Phase 2)"),
        ]

    def __str__(self):
        return self.key

    @property
    def state(self) -> str:
        if self.kill_switch_engaged:
            return FlagState.OFF
        return FlagState.GLOBAL if self.enabled_globally else FlagState.ALLOW_LIST

    @property
    def state_label(self) -> str:
        return FlagState(self.state).label

    def plain_state(self, allow_listed: int) -> tuple[str, str]:
        """(css class, words) a person reads: "On for every bar", "On for 12 allow-listed bars", "Off — 0 bars",
        "Off — kill switch engaged" (Unleash/LaunchDarkly style: a flag is plainly on or off)."""
        if self.kill_switch_engaged:
            return "killed", "Off — kill switch engaged"
        if self.enabled_globally:
            return "global", "On for every bar"
        if allow_listed:
            return "allow_list", f"On for {allow_listed:,} allow-listed bar{'s' if allow_listed != 1 else ''}"
        return "off", "Off — 0 bars"


class FeatureFlagUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(FeatureFlag, on_delete=models.CASCADE)


class FeatureFlagGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(FeatureFlag, on_delete=models.CASCADE)


def ensure_default_flags(apps=None, **kwargs):
    """Both runbook flags exist and start OFF (runbook 1.3); the rollout state row exists (at stage off).

    As a post_migrate receiver it uses the migrated state's models (`apps`): after a partial or reversed
    migration the newest columns may not exist yet.
    """
    from django.apps import apps as global_apps

    apps = apps or global_apps
    try:
        flag_model = apps.get_model("rollout", "FeatureFlag")
    except LookupError:
        return
    for key, description in DEFAULT_FLAGS.items():
        flag_model.objects.get_or_create(key=key, defaults={"description": description})
    try:
        state_model = apps.get_model("rollout", "RolloutState")
    except LookupError:
        return
    state_model.objects.get_or_create(pk=RolloutState.SINGLETON_ID)
