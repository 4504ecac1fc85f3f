from django.contrib import admin, messages
from guardian.admin import GuardedModelAdmin

from adminpanel.admin_audit import AuditedAdminMixin, AuditedGuardedAdminMixin
from rollout.killswitch import alert_hooks
from rollout.models import AlertTrigger, FeatureFlag


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


@admin.register(AlertTrigger)
class AlertTriggerAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Alertmanager triggers (issue 23): adding one shows its webhook secret once (only its hash is kept); the
    "Revoke" action stops a secret at once. Adds and changes are audited like every admin edit; revoking is
    audited by rollout.killswitch.alert_hooks.revoke. No delete: the trigger stays as the actor of what it did."""

    list_display = ("name", "may_pull_kill_switch", "created_at", "last_called_at", "revoked_at")
    fields = ("name", "may_pull_kill_switch", "created_by", "created_at", "last_called_at", "revoked_at")
    readonly_fields = ("created_by", "created_at", "last_called_at", "revoked_at")
    actions = ["revoke_triggers"]

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        secret = None
        if not change:
            secret, obj.token_hash = alert_hooks.new_secret()
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        if secret:
            self.message_user(
                request,
                f"Webhook URL path (shown once, keep it in Alertmanager's config): /hooks/alertmanager/{secret}",
                messages.WARNING,
            )

    @admin.action(description="Revoke the selected triggers (their secrets stop working at once)")
    def revoke_triggers(self, request, queryset):
        revoked = sum(alert_hooks.revoke(actor=request.user, trigger=trigger) for trigger in queryset)
        self.message_user(request, f"{revoked} trigger(s) revoked.", messages.SUCCESS)
