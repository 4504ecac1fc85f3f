"""The panel's URLs plus `/bench/bare`: a Django view through the same middleware that does no work."""

from django.contrib.auth.decorators import login_not_required
from django.http import JsonResponse
from django.urls import include, path
from django.views.decorators.http import require_GET


@login_not_required
@require_GET
def bare(request):
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/bare", bare), path("", include("config.urls"))]
