"""django-axes in the Django admin: superusers see failed logins and lockouts, and lift a lockout by deleting it.

Registered here (AXES_ENABLE_ADMIN is off) so that lifting a lockout is audited like every other admin change;
the login and failure logs are read-only.
"""

from axes.admin import AccessAttemptAdmin, AccessFailureLogAdmin, AccessLogAdmin
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib import admin

from adminpanel.admin_audit import AuditedAdminMixin


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AccessAttempt)
class LockoutAdmin(AuditedAdminMixin, AccessAttemptAdmin):
    """Failed logins per username and address, "Locked Out" once AXES_FAILURE_LIMIT is reached (filter: Locked
    out = Yes). Deleting a row lifts that lockout at once, and records who did it in panel_events."""

    actions = []  # only the admin's "delete selected", which goes through delete_queryset (audited)

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(AccessLog)
class LoginLogAdmin(ReadOnlyAdminMixin, AccessLogAdmin):
    """Successful logins and logouts (read-only)."""


@admin.register(AccessFailureLog)
class LoginFailureLogAdmin(ReadOnlyAdminMixin, AccessFailureLogAdmin):
    """Every failed login, with whether it was refused as locked out (read-only; kept after a lockout is lifted)."""
