from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from adminpanel import openapi, picker_views
from rollout.runbook import views as rollout_views

urlpatterns = [
    # The rollout URLs come first: they hold the flag API that every BarTender device polls.
    path("", include("rollout.urls")),
    path("", rollout_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("django-admin/", admin.site.urls),
    # Search-as-you-type pickers (issue 14): options for a bar or user text field, scoped to what the requester sees.
    path("pick/bars/", picker_views.pick_bars, name="pick_bars"),
    path("pick/users/", picker_views.pick_users, name="pick_users"),
    # The client APIs' OpenAPI 3.1 contract (issue 23): token-free JSON, and a page for people.
    path("api/openapi.json", openapi.openapi_json, name="openapi_json"),
    path("api/docs/", openapi.api_docs, name="api_docs"),
    # Each runbook concern owns its URL module (and its API routes under /api/v1/); paths are unchanged from
    # the earlier layout, so bookmarks keep working.
    path("", include("monitoring.urls")),
    path("", include("backfill.urls")),
    path("", include("mappings.urls")),
]

# Bad input (adminpanel.bad_input.BadInput) is a 400 page with its message, inside the layout.
handler400 = "adminpanel.bad_input.bad_request"
# 403, 404 and 500 inside the layout with a way back (issue 14).
handler403 = "adminpanel.error_pages.permission_denied"
handler404 = "adminpanel.error_pages.page_not_found"
handler500 = "adminpanel.error_pages.server_error"
