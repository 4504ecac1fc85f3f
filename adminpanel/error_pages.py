"""403, 404, 500 and the CSRF refusal as pages of the panel (issue 14): inside the layout, with the navigation
and a way back, whatever DEBUG says for 403 and CSRF (Django's debug CSRF page and bare default pages speak to
developers). An htmx request gets the message alone (the page around it is already there)."""

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


@requires_csrf_token
def server_error(request):
    """``handler500``: in the layout when the layout itself can still render, else a bare page."""
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
