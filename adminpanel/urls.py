from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from adminpanel import pickers
from rollout import views as rollout_views

urlpatterns = [
    # The rollout URLs come first: they hold the flag API that every BarTender device polls.
    path("", include("rollout.urls")),
    path("", rollout_views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("django-admin/", admin.site.urls),
    # Search-as-you-type pickers (issue 14): options for a bar or user text field, scoped to what the requester sees.
    path("pick/bars/", pickers.pick_bars, name="pick_bars"),
    path("pick/users/", pickers.pick_users, name="pick_users"),
    # Each runbook concern owns its URL module (and its API routes under /api/v1/); paths are unchanged from
    # the earlier layout, so bookmarks keep working.
    path("", include("monitoring.urls")),
    path("", include("backfill.urls")),
    path("", include("mappings.urls")),
]

# Bad input (adminpanel.bad_input.BadInput) is a 400 page with its message, inside the layout.
handler400 = "adminpanel.bad_input.bad_request"
