"""Confirmation tokens that bind (issue 22): a risky action is confirmed once, on a page that shows what it changes,
and the POST that does it must carry the token that page signed. The token names the user who saw the page, the
action, its object and the state it was shown for (versions, counts), carries a nonce recorded when it is used
(once only) and expires after ``CONFIRMATION_MAX_AGE_SECONDS``. Anything that differs refuses the action with a
message saying what to do; nothing changes. Used by the rollout and the backfill (their pages build the text).
"""

import secrets
from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import connection
from django.utils import timezone

from adminpanel.models import UsedConfirmation

SALT = "adminpanel.confirmations"


class ConfirmationMissing(Exception):
    """The action was not confirmed by this user for this state (no token, an old, used or foreign one)."""


def max_age_seconds() -> int:
    return int(getattr(settings, "CONFIRMATION_MAX_AGE_SECONDS", 15 * 60))


def normalised(fields: dict) -> dict:
    return {key: "" if value is None else str(value) for key, value in sorted(fields.items())}


def sign(*, user, action: str, fields: dict | None = None) -> str:
    """A token for `user` confirming `action` with these inputs and state, valid once, for a short time."""
    payload = {"u": str(user.pk), "a": action, "f": normalised(fields or {}), "n": secrets.token_urlsafe(16)}
    return signing.dumps(payload, salt=SALT)


def check(token: str, *, user, action: str, fields: dict | None = None, consume: bool = True) -> None:
    """Raise ConfirmationMissing unless `token` was signed for this user, this action and exactly these inputs,
    recently, and has not been used; then record it as used (atomically: of two concurrent uses one wins)."""
    if not token:
        raise ConfirmationMissing("Confirm first: the confirmation shows what this changes.")
    minutes = max_age_seconds() // 60
    try:
        data = signing.loads(token, salt=SALT, max_age=max_age_seconds())
    except signing.SignatureExpired as exc:
        raise ConfirmationMissing(f"The confirmation is older than {minutes} minutes: confirm again.") from exc
    except signing.BadSignature as exc:
        raise ConfirmationMissing("The confirmation is not valid: confirm again.") from exc
    if not isinstance(data, dict) or data.get("u") != str(user.pk):
        raise ConfirmationMissing(
            "This confirmation was given by another account: confirm it yourself (it is recorded under your name)."
        )
    if data.get("a") != action:
        raise ConfirmationMissing("This confirmation is for another action: confirm this one.")
    if data.get("f") != normalised(fields or {}):
        raise ConfirmationMissing("What you confirmed has changed since: confirm again with the new figures.")
    if consume and not _consume(str(data.get("n", ""))):
        raise ConfirmationMissing("This confirmation was already used: confirm again to do it once more.")


def _consume(nonce: str) -> bool:
    """Record the nonce; False when it already was (a replay, or the loser of two concurrent submissions)."""
    if not nonce:
        return False
    now = timezone.now()
    UsedConfirmation.objects.filter(used_at__lt=now - timedelta(seconds=2 * max_age_seconds())).delete()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO panel_used_confirmations (nonce, used_at) VALUES (%s, %s) ON CONFLICT (nonce) DO NOTHING",
            [nonce, now],
        )
        return cursor.rowcount == 1
