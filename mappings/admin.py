from django.contrib import admin

from adminpanel.admin_audit import AuditedAdminMixin
from mappings import services
from mappings.models import MappingImport, ServerNameMapping

ADMIN_REASON = "Django admin"


@admin.register(ServerNameMapping)
class ServerNameMappingAdmin(admin.ModelAdmin):
    """Edits made here go through the same services as the panel's, so they are validated and in the history."""

    list_display = ("bar", "server_name", "user", "updated_at")
    list_select_related = ("bar", "user")
    search_fields = ("server_name", "normalized_name")
    raw_id_fields = ("bar", "user")
    fields = ("bar", "server_name", "user", "normalized_name", "created_at", "updated_at")
    readonly_fields = ("normalized_name", "created_at", "updated_at")
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # A mapping belongs to its bar: moving it would bypass that bar's rules; delete and add instead.
        return (*self.readonly_fields, "bar") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            services.update_mapping(
                mapping=obj, server_name=obj.server_name, user=obj.user, actor=request.user, reason=ADMIN_REASON
            )
            return
        created = services.create_mapping(
            bar=obj.bar, server_name=obj.server_name, user=obj.user, actor=request.user, reason=ADMIN_REASON
        )
        obj.pk = created.pk
        obj._state.adding = False

    def delete_model(self, request, obj):
        services.delete_mapping(mapping=obj, actor=request.user, reason=ADMIN_REASON)

    def delete_queryset(self, request, queryset):
        for mapping in queryset:
            services.delete_mapping(mapping=mapping, actor=request.user, reason=ADMIN_REASON)


@admin.register(MappingImport)
class MappingImportAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Read-only: imports are previewed and applied on the bar's page (a stale one may be deleted, audited)."""

    list_display = ("created_at", "bar", "created_by", "filename", "applied_at")
    list_select_related = ("bar", "created_by")
    exclude = ("content",)
    readonly_fields = ("bar", "created_by", "filename", "summary", "created_at", "applied_at")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
