"""The page a locked-out login gets (django-axes calls `lockout_response` through AXES_LOCKOUT_CALLABLE).

Axes counts failed logins per username and address, on the panel's login page and the Django admin's alike; once
AXES_FAILURE_LIMIT is reached it refuses that pair, even with the right password, for AXES_COOLOFF_TIME.
"""

from django.conf import settings
from django.shortcuts import render


def lockout_response(request, original_response=None, credentials=None):
    """429 inside the panel's layout, saying for how long and who can lift it, with a Retry-After header."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    response = render(
        request,
        "registration/locked_out.html",
        {"username": username, "minutes": max(1, round(seconds / 60)), "failure_limit": settings.AXES_FAILURE_LIMIT},
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
