"""403, 404, 500 and the CSRF refusal as pages of the panel (issue 14): inside the layout, with the navigation
and a way back, whatever DEBUG says for 403 and CSRF (Django's debug CSRF page and bare default pages speak to
developers). An htmx request gets the message alone (the page around it is already there)."""

import sys

from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

GENERIC_403 = "You do not have the rights this page needs."


def _message(exception, default: str) -> str:
    """The sentence a view gave its PermissionDenied (written for people), else the default."""
    text = str(exception) if exception is not None else ""
    return text or default


@requires_csrf_token
def permission_denied(request, exception=None):
    """``handler403``: why, where to go instead."""
    message = _message(exception, GENERIC_403)
    template = "_error_message.html" if getattr(request, "htmx", False) else "403.html"
    return render(request, template, {"message": message, "status": 403}, status=403)


@requires_csrf_token
def page_not_found(request, exception=None):
    """``handler404`` (with DEBUG on, Django shows its technical page instead)."""
    template = "_error_message.html" if getattr(request, "htmx", False) else "404.html"
    context = {"message": "There is no such page, or nothing here that you may see.", "status": 404}
    return render(request, template, context, status=404)


def _database_unreachable():
    """True when the request failed because PostgreSQL cannot be reached (not a bug: the panel is fine, its
    database is restarting or gone)."""
    error = sys.exc_info()[1]
    while error is not None:
        if isinstance(error, (OperationalError, InterfaceError)):
            return True
        error = error.__cause__ or error.__context__
    return False


def database_unreachable(request):
    """503 "database unreachable" in the layout (without the navigation, which reads the user's roles from the
    database), with Retry-After; a bare page if even the layout cannot render."""
    request.user = AnonymousUser()  # the lazy user would query the database again
    request.__dict__.pop("_messages", None)  # nor the session's messages (none are shown or stored then)
    try:
        response = render(request, "503_database.html", {"status": 503}, status=503)
    except Exception:  # noqa: BLE001 (the error page must not fail in turn)
        response = HttpResponse(loader.get_template("503_database_bare.html").render(), status=503)
    response["Retry-After"] = "10"
    return response


@requires_csrf_token
def server_error(request):
    """``handler500``: in the layout when the layout itself can still render, else a bare page. A request that
    failed because the database is unreachable gets the "database unreachable" page (503) instead."""
    if _database_unreachable():
        return database_unreachable(request)
    try:
        return render(request, "500.html", {"status": 500}, status=500)
    except Exception:  # noqa: BLE001 (the error page must not fail in turn)
        from django.http import HttpResponseServerError

        return HttpResponseServerError(loader.get_template("500_bare.html").render())


def csrf_failure(request, reason=""):
    """``CSRF_FAILURE_VIEW``: a form sent from an old page (or after logging in elsewhere) is refused with what
    to do, inside the layout, also with DEBUG on."""
    message = (
        "This form was sent from a page that is no longer valid (it was open for a long time, or you logged in "
        "again elsewhere). Nothing was changed: reload the page and send it again."
    )
    return render(request, "403.html", {"message": message, "status": 403, "csrf": True}, status=403)
