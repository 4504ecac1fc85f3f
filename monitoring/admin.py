"""The contact chain in the Django admin (admins edit it; DESIGN.md section 4c). Every add, change and delete,
inline contacts included, is recorded in panel_events like the panel's own changes."""

from django.contrib import admin

from adminpanel.admin_audit import AuditedAdminMixin
from monitoring.models import Contact, ContactTier


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 1
    fields = ("position", "name", "phone", "email", "webhook_url", "is_active")
    ordering = ("position", "name")


@admin.register(ContactTier)
class ContactTierAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("position", "name", "contact_count")
    list_display_links = ("name",)
    ordering = ("position",)
    inlines = [ContactInline]

    @admin.display(description="Active contacts")
    def contact_count(self, obj):
        return obj.contacts.filter(is_active=True).count()


@admin.register(Contact)
class ContactAdmin(AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("name", "tier", "position", "phone", "email", "is_active")
    list_filter = ("tier", "is_active")
    search_fields = ("name", "email", "phone")
    ordering = ("tier__position", "position", "name")
