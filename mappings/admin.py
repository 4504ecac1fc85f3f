from django.contrib import admin

from mappings.models import ServerNameMapping


@admin.register(ServerNameMapping)
class ServerNameMappingAdmin(admin.ModelAdmin):
    list_display = ("bar", "server_name", "user", "updated_at")
    search_fields = ("server_name", "normalized_name")
    raw_id_fields = ("bar", "user", "created_by", "updated_by")
    readonly_fields = ("normalized_name",)
