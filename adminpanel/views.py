from django.http import HttpRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from adminpanel import selectors
from adminpanel.roles import roles_of
from rollout.models import FeatureFlag


@require_GET
def home(request: HttpRequest):
    """The landing page: one section per role the user holds, nothing for roles they lack."""
    roles = roles_of(request.user)
    context = {"roles": roles}
    if roles.manages_bars:
        context["managed_bars"] = selectors.bars_for_manager(request.user)
    if roles.is_support or roles.is_superuser:
        context["recent_errors"] = selectors.recent_errors()
        context["row_estimates"] = selectors.estimated_row_counts(
            ["sales", "consignments", "returns", "audit_logs", "migration_server_id_log"]
        )
    if roles.is_product or roles.is_superuser:
        context["flags"] = FeatureFlag.objects.all()
        context["adoption"] = selectors.adoption()
    return render(request, "adminpanel/home.html", context)
