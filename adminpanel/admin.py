"""Django admin for superusers, with guardian's object-permission screens on bars and flags.

Every ModelAdmin registered here (and in the apps' admin modules) records what it changes in ``panel_events``
(adminpanel.admin_audit); tests/test_admin_audit.py walks the whole registry to prove it.
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from guardian.admin import GuardedModelAdmin, UserManage

from adminpanel.admin_audit import AuditedAdminMixin, AuditedGuardedAdminMixin, object_or_404
from adminpanel.audit import record_event
from adminpanel.models import ApiClient, AuditLog, Bar, BarMember, PanelEvent, User
from adminpanel.pickers import fold
from adminpanel.presentation import as_json_text
from adminpanel.roles import managed_bars

# guardian's "Object permissions" screens (bars, flags) ask for a user with a help text written for developers
# ("Enter a value compatible with User.USERNAME_FIELD"): say what a person types instead.
PERSON_HELP = "The panel account's login (username) or display name; a display name two accounts share lists both."
UserManage.base_fields["user"].help_text = PERSON_HELP
UserManage.base_fields["user"].label = "Person"


class NamedUserManageMixin:
    """guardian's user box on the object-permission screens accepts a panel account's login or display name (an
    ambiguous one is an error naming the candidates). Permissions are held by panel accounts, never by BarTender's
    users."""

    def get_obj_perms_user_select_form(self, request):
        class PersonManage(UserManage):
            def clean_user(self):
                text = " ".join((self.cleaned_data.get("user") or "").split())
                if not text:
                    raise forms.ValidationError("Type the person's login or display name.")
                exact = User.objects.filter(username=text).first()
                if exact is not None:
                    return exact
                # Panel accounts are few: compare names as people type them (case and accents ignored).
                key = fold(text)
                matches = [
                    u for u in User.objects.only("username", "display_name")
                    if key in (fold(u.username), fold(u.display_name))
                ][:9]  # fmt: skip
                if len(matches) == 1:
                    return matches[0]
                if matches:
                    names = ", ".join(sorted(f"{u.display_name or u.username} ({u.username})" for u in matches))
                    raise forms.ValidationError(f"Several panel accounts are called “{text}”: {names}. Type the login.")
                raise forms.ValidationError(f"No panel account is called “{text}”.")

        return PersonManage


# Groups are the panel's roles (support, product): who joins or leaves one, and which permissions it carries,
# is audited like any other grant.
admin.site.unregister(Group)


def _superusers_only(request) -> bool:
    """Only superusers reach the Django admin (a staff flag alone gave an empty index): the panel's own pages
    carry every other role."""
    return request.user.is_active and request.user.is_superuser


admin.site.has_permission = _superusers_only


@admin.register(Group)
class PanelGroupAdmin(AuditedAdminMixin, GroupAdmin):
    pass


@admin.register(User)
class PanelUserAdmin(AuditedAdminMixin, UserAdmin):
    fieldsets = UserAdmin.fieldsets + (
        ("BarTender", {"fields": ("display_name", "bartender_user", "bars_managed", "bar_memberships_list")}),
    )
    readonly_fields = ("bars_managed", "bar_memberships_list")
    raw_id_fields = ("bartender_user",)
    list_display = ("username", "display_name", "email", "is_staff", "is_superuser")
    search_fields = ("username", "display_name", "email")

    @admin.display(description="Bars whose server names this person manages")
    def bars_managed(self, obj):
        """The bars on which the person holds mappings.manage_bar_mappings (granted on each bar's "Object
        permissions" screen)."""
        if obj is None or obj.pk is None:
            return "—"
        if obj.is_superuser:
            return "Every bar (superuser)."
        bars = list(managed_bars(obj).order_by("name")[:200])
        if not bars:
            return "None. Grant it on a bar's “Object permissions” screen (Bars › the bar › Object permissions)."
        links = format_html_join(
            ", ", '<a href="{}">{}</a>', ((reverse("admin:adminpanel_bar_change", args=[b.pk]), b.name) for b in bars)
        )
        return format_html("{} ({} bar{})", links, len(bars), "" if len(bars) == 1 else "s")

    @admin.display(description="Their BarTender user is a member of (role in each bar)")
    def bar_memberships_list(self, obj):
        if obj is None or obj.pk is None or obj.bartender_user_id is None:
            return "—"
        rows = list(
            BarMember.objects.filter(user_id=obj.bartender_user_id).select_related("bar").order_by("bar__name")[:200]
        )
        if not rows:
            return "No bar."
        return format_html_join(
            ", ",
            "{} ({}{})",
            ((m.bar.name, m.get_role_display().lower(), "" if m.is_active else ", inactive") for m in rows),
        )

    def user_change_password(self, request, id, form_url=""):
        """The admin's password form saves the user itself (not through save_model): audited here, without
        the password or its hash."""
        user = object_or_404(self.get_queryset(request), id)
        before = user.password
        response = super().user_change_password(request, id, form_url)
        user.refresh_from_db(fields=["password"])
        if user.password != before:
            record_event(
                actor=request.user,
                action="admin.change.adminpanel.user",
                target=user,
                before={"password": "(previous)"},
                after={"password": "(changed)"},
                reason="Django admin (password)",
            )
        return response


class ReadOnlyProductAdminMixin:
    """BarTender's rows are the product's: the admin shows them (and bars carry their object-permission screens),
    it never adds, changes or deletes them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class BarMemberInline(ReadOnlyProductAdminMixin, admin.TabularInline):
    model = BarMember
    extra = 0
    fields = ("user", "role", "is_active")
    readonly_fields = fields


@admin.register(Bar)
class BarAdmin(NamedUserManageMixin, AuditedGuardedAdminMixin, GuardedModelAdmin):
    list_display = ("name", "is_internal", "operating_mode", "last_sale_at")
    list_filter = ("is_internal",)
    search_fields = ("name",)
    inlines = [BarMemberInline]
    show_full_result_count = False
    readonly_fields = ("name", "settings", "is_internal", "last_sale_at", "created_at")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Every field of a bar is read-only here: its page exists for the object permissions, it writes nothing."""


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyProductAdminMixin, AuditedAdminMixin, admin.ModelAdmin):
    list_display = ("created_at", "level", "error_type", "bar", "error_message")
    list_filter = ("level", "error_type")
    raw_id_fields = ("bar", "user")
    show_full_result_count = False


@admin.register(PanelEvent)
class PanelEventAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = (
        "created_at",
        "actor_name",
        "action",
        "target_type",
        "target_id",
        "before_json",
        "after_json",
        "reason",
    )
    list_filter = ("action", "target_type")
    readonly_fields = ("before_json", "after_json")

    @admin.display(description="before")
    def before_json(self, obj):
        """JSON, never a Python repr."""
        return as_json_text(obj.before) if obj.before is not None else "—"

    @admin.display(description="after")
    def after_json(self, obj):
        return as_json_text(obj.after) if obj.after is not None else "—"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ApiClientForm(forms.ModelForm):
    class Meta:
        model = ApiClient
        fields = ("name", "is_active", "all_bars", "bars", "expires_at")

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("all_bars") and not cleaned.get("bars"):
            raise forms.ValidationError(
                "Choose the bars this token may serve, or tick “All bars” for a fleet-wide client."
            )
        return cleaned


@admin.register(ApiClient)
class ApiClientAdmin(AuditedAdminMixin, admin.ModelAdmin):
    """Creating a client (or ticking "rotate token") shows its token once; only the hash is stored. Unticking
    "active", deleting the client or changing its bars or expiry takes effect at once in every process."""

    form = ApiClientForm
    list_display = ("name", "token_prefix", "is_active", "scope", "expires_at", "last_used_at")
    list_filter = ("is_active", "all_bars")
    search_fields = ("name",)
    readonly_fields = ("token_prefix", "created_at", "last_used_at")
    fields = ("name", "is_active", "all_bars", "bars", "expires_at", "token_prefix", "created_at", "last_used_at")
    autocomplete_fields = ("bars",)

    @admin.display(description="bars")
    def scope(self, obj):
        return "all bars" if obj.all_bars else f"{obj.bars.count()} bar(s)"

    def save_model(self, request, obj, form, change):
        rotate = not change or request.POST.get("_rotate_token")
        raw = obj.issue_token() if rotate else None
        super().save_model(request, obj, form, change)
        if raw:
            messages.warning(request, f"Token for {obj.name} (copy it now, it is not shown again): {raw}")


# Failed logins and lockouts (django-axes), registered with the admin audit.
from adminpanel import admin_lockouts  # noqa: E402, F401
