"""How the rollout's views answer: a refusal as 403, a service's refusal as a message, and the one confirmation
step of a risky action."""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.shortcuts import redirect, render

from rollout.errors import NotAllowed, RolloutError


def require(allowed: bool) -> None:
    if not allowed:
        raise PermissionDenied


def form_errors(form) -> str:
    return " ".join(f"{error}" for errors in form.errors.values() for error in errors)


def run_and_go_back(request: HttpRequest, form, call, success=None, *, back: str = "rollout:page", refused: str = ""):
    """Run a service call for a valid form; refusals become messages starting with `refused`. Then back to `back`
    (a URL name or a URL; the rollout page by default). `success` is the message, or a function of (result, data)
    that says it; a result's own `message` wins."""
    if not form.is_valid():
        messages.error(request, refused + form_errors(form))
        return redirect(back)
    try:
        result = call(form.cleaned_data)
    except NotAllowed as exc:
        raise PermissionDenied(str(exc)) from exc
    except RolloutError as exc:
        messages.error(request, refused + str(exc))
        return redirect(back)
    message = getattr(result, "message", None) or (success(result, form.cleaned_data) if callable(success) else success)
    if message:
        (messages.success if getattr(result, "applied", True) else messages.warning)(request, message)
    return redirect(back)


def confirmation_page(request: HttpRequest, confirmation, *, action_url: str, status: int = 200, error: str = ""):
    """The one confirmation step: what the action changes (figures from the database), its undo, and a form
    that posts the same inputs back with the signed token."""
    return render(
        request,
        "rollout/confirm.html",
        {"confirmation": confirmation, "action_url": action_url, "error": error},
        status=status,
    )
