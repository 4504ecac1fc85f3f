from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from adminpanel import views

urlpatterns = [
    # The rollout URLs come first: they hold the flag API that every BarTender device polls.
    path("", include("rollout.urls")),
    path("", views.home, name="home"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("django-admin/", admin.site.urls),
    # Each feature owns its URL module (and its API routes under /api/v1/).
    path("", include("adminpanel.urls_monitoring")),
    path("", include("adminpanel.urls_logs")),
    path("", include("mappings.urls")),
]
