"""The "checks are stale / no worker" banner on every page (issue 22): read lazily, so a page that does not show it
(an htmx fragment, the login page) costs nothing; a page that does pays two indexed one-row reads, never a broker
round-trip."""

from django.db import DatabaseError
from django.utils.functional import SimpleLazyObject

from monitoring.health import freshness


def _state():
    # The banner never breaks a page: with the database unreachable (or a transaction already aborted) it is left
    # out, and the page's own error handling speaks.
    try:
        return freshness.pipeline_state()
    except DatabaseError:
        return None


def pipeline(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"pipeline": SimpleLazyObject(_state)}
