"""Django admin for superusers, with guardian's object-permission screens on bars and flags."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from guardian.admin import GuardedModelAdmin

from adminpanel.admin_audit import AuditedAdminMixin, AuditedGuardedAdminMixin
from adminpanel.models import ApiClient, AuditLog, Bar, BarMember, PanelEvent, User


@admin.register(User)
class PanelUserAdmin(AuditedAdminMixin, UserAdmin):
    fieldsets = UserAdmin.fieldsets + (("BarTender", {"fields": ("display_name",)}),)
    list_display = ("username", "display_name", "email", "is_staff", "is_superuser")
    search_fields = ("username", "display_name", "email")


class BarMemberInline(admin.TabularInline):
    model = BarMember
    extra = 0
    raw_id_fields = ("user",)


@admin.register(Bar)
class BarAdmin(AuditedGuardedAdminMixin, GuardedModelAdmin):
    list_display = ("name", "is_internal", "operating_mode", "last_sale_at")
    list_filter = ("is_internal",)
    search_fields = ("name",)
    inlines = [BarMemberInline]
    show_full_result_count = False


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    list_display = ("created_at", "level", "error_type", "bar", "error_message")
    list_filter = ("level", "error_type")
    raw_id_fields = ("bar", "user")
    show_full_result_count = False


@admin.register(PanelEvent)
class PanelEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = ("created_at", "actor_name", "action", "target_type", "target_id", "reason")
    list_filter = ("action", "target_type")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ApiClient)
class ApiClientAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Creating a client (or ticking "rotate token") shows its token once; only the hash is stored."""

    list_display = ("name", "token_prefix", "is_active", "created_at", "last_used_at")
    readonly_fields = ("token_prefix", "created_at", "last_used_at")
    fields = ("name", "is_active", "token_prefix", "created_at", "last_used_at")

    def save_model(self, request, obj, form, change):
        rotate = not change or request.POST.get("_rotate_token")
        raw = obj.issue_token() if rotate else None
        super().save_model(request, obj, form, change)
        if raw:
            messages.warning(request, f"Token for {obj.name} (copy it now, it is not shown again): {raw}")


# Failed logins and lockouts (django-axes), registered with the admin audit.
from adminpanel import admin_lockouts  # noqa: E402, F401
