from django.http import HttpRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from adminpanel import selectors, views_monitoring
from adminpanel.roles import roles_of
from rollout.models import FeatureFlag


@require_GET
def home(request: HttpRequest):
    """The landing page: one section per role the user holds, nothing for roles they lack; support, product
    owners and superusers get the monitoring dashboard on top (bar managers never see monitoring data)."""
    roles = roles_of(request.user)
    context = {"roles": roles, "monitoring": views_monitoring.can_view_monitoring(request.user)}
    if context["monitoring"]:
        context.update(views_monitoring.monitoring_context(request.user))
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
