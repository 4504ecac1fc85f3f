"""What a page behind a login may leave behind (issue 25): nothing in a shared cache or the browser's history
(``Cache-Control: no-store``), and no session that outlives its owner's attention (an idle timeout and an absolute
lifetime, both settings)."""

import time

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login

LAST_SEEN = "panel_last_seen"
SIGNED_IN = "panel_signed_in"
# The idle clock is written at most this often (a session write per page view would cost every request a query).
TOUCH_SECONDS = 60


class PrivatePages:
    """After AuthenticationMiddleware: ends a session idle for SESSION_IDLE_TIMEOUT_SECONDS or older than
    SESSION_ABSOLUTE_LIFETIME_SECONDS (back to the login page, then to where the person was going), and marks every
    answer to a signed-in person ``Cache-Control: no-store``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            session = request.session
            signed_in = session.setdefault(SIGNED_IN, now)
            last_seen = session.get(LAST_SEEN, now)
            if (
                now - last_seen > settings.SESSION_IDLE_TIMEOUT_SECONDS
                or now - signed_in > settings.SESSION_ABSOLUTE_LIFETIME_SECONDS
            ):
                logout(request)
                return redirect_to_login(request.get_full_path())
            if now - last_seen >= TOUCH_SECONDS or LAST_SEEN not in session:
                session[LAST_SEEN] = now
        response = self.get_response(request)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            response.headers["Cache-Control"] = "no-store"
        return response


def start_session_clocks(sender, request, user, **kwargs) -> None:
    """At login: the absolute lifetime counts from now (not from the first page after it)."""
    if hasattr(request, "session"):
        request.session[SIGNED_IN] = request.session[LAST_SEEN] = time.time()


user_logged_in.connect(start_session_clocks, dispatch_uid="adminpanel.sessions.start_session_clocks")
