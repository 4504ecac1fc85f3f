"""Rollback Option B, "Code Rollback", run by the panel (DESIGN §1, runbook rollback procedures).

The runbook reverts the commit and redeploys by hand. With ``BARTENDER_DEPLOY_HOOK_URL`` set (a CI/CD webhook:
GitHub Actions' repository_dispatch, a GitLab pipeline trigger, a deploy service), a person holding
``rollout.trigger_rollback`` names the build to go back to and why; the panel POSTs it to the hook, then polls
the health URL until it serves that build, as Phase 3 does (rollout.runbook.phase3.wait_for_build). Every request and
outcome is audited, on the rollout timeline, and told to the open incident. Without the setting the rollout page
shows the manual procedure.
"""

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from adminpanel.audit import record_event
from monitoring.incidents import selectors as incident_selectors
from rollout import permissions
from rollout.confirmations import Confirmation
from rollout.errors import InvalidRequest, NotAllowed, RolloutError
from rollout.events.services import _record
from rollout.killswitch.services import note_on_incident
from rollout.models import CodeRollback, EventKind, RolloutState
from rollout.runbook import phase3
from rollout.runbook.phase1 import StepRefused
from rollout.stages.services import locked_state

logger = logging.getLogger(__name__)
REASON_MAX = 2000


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A hook that answers with a redirect is refused, never followed (a token must not travel elsewhere)."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl} refused", headers, fp)


def hook_url() -> str:
    return settings.BARTENDER_DEPLOY_HOOK_URL


def clean_request(*, build: str, reason: str) -> tuple[str, str]:
    """The hook is set and the build and the reason are acceptable (checked before the confirmation page and again
    by request_code_rollback); refusals as domain errors, in words."""
    url = hook_url()
    if not url:
        raise RolloutError("BARTENDER_DEPLOY_HOOK_URL is not set: follow the manual procedure shown on the page.")
    if urlsplit(url).scheme not in ("http", "https"):
        raise RolloutError(f"BARTENDER_DEPLOY_HOOK_URL must be an http(s) URL, not {url!r}.")
    try:
        build = phase3.clean_build_hash(build)
    except StepRefused as exc:
        raise InvalidRequest(str(exc).replace("you deployed", "to roll back to")) from None
    reason = (reason or "").strip()
    if not reason:
        raise InvalidRequest("Say why: rolling the code back needs a reason.")
    if len(reason) > REASON_MAX:
        raise InvalidRequest(f"The reason is too long ({len(reason)} characters; at most {REASON_MAX}).")
    return build, reason


def confirmation(*, user, build: str, reason: str) -> Confirmation:
    """The one confirmation page of Option B: which hook deploys which build, what the health URL serves now, the
    undo. Its token binds the build and the reason, for this user (adminpanel.confirmations)."""
    build, reason = clean_request(build=build, reason=reason)
    hook = urlsplit(hook_url()).netloc
    try:
        url = phase3.health_url() if settings.BARTENDER_HEALTH_URL else ""
    except StepRefused as exc:
        raise RolloutError(str(exc)) from None
    if url:
        seen = phase3.probe(url, build)
        if seen.error:
            serving = f"{url} does not answer now ({seen.error})."
        elif seen.matched:
            serving = f"{url} already serves build {seen.build}: the hook deploys it again."
        else:
            serving = f"{url} answers {seen.in_words()} now."
        watch = (
            f"then a worker polls {url} for up to {settings.PHASE3_POLL_TIMEOUT_SECONDS:g} s until it serves build "
            f"{build}. {serving}"
        )
    else:
        watch = "BARTENDER_HEALTH_URL is not set: nobody checks that it serves it; check by hand."
    return Confirmation(
        "code_rollback",
        f"Roll the code back to build {build} (Option B)",
        f"Asks the CI/CD deploy hook at {hook} to deploy build {build} to production in place of the running code "
        f"(the server resolution logic goes, the migrations and data stay; new sales get no server_id); {watch}",
        "Undo: roll forward — deploy the build you are leaving again (this form with its hash, or your CI/CD).",
        f"Call the deploy hook for build {build}",
        0,
        {"build": build, "reason": reason},
        danger=True,
    ).sign(user)


def request_code_rollback(*, actor, build: str, reason: str) -> CodeRollback:
    """Option B asked for: the build to go back to and why (audited); a worker then calls the hook and waits."""
    if not permissions.can_trigger_rollback(actor):
        raise NotAllowed("Rolling the code back (Option B) needs rollout.trigger_rollback.")
    build, reason = clean_request(build=build, reason=reason)
    url = hook_url()
    with transaction.atomic():
        busy = CodeRollback.objects.select_for_update().filter(status__in=CodeRollback.ACTIVE).first()
        if busy is not None:
            raise RolloutError(f"Code rollback #{busy.pk} to {busy.build} is still running: one at a time.")
        rollback = CodeRollback.objects.create(
            build=build, reason=reason, requested_by=actor, requested_by_name=actor.username
        )
        record_event(actor=actor, action="code_rollback.request", target=rollback,
                     after={"build": build, "hook": urlsplit(url).netloc}, reason=reason)  # fmt: skip
    return rollback


def call_hook(rollback: CodeRollback) -> tuple[int | None, str]:
    """POST the build to the hook; (HTTP status, error in words — empty when it accepted with a 2xx)."""
    body = json.dumps({"build": rollback.build, "reason": rollback.reason,
                       "requested_by": rollback.requested_by_name, "rollback": rollback.pk}).encode()  # fmt: skip
    headers = {"Content-Type": "application/json", "User-Agent": "bartender-panel"}
    if settings.BARTENDER_DEPLOY_HOOK_TOKEN:
        headers["Authorization"] = f"Bearer {settings.BARTENDER_DEPLOY_HOOK_TOKEN}"
    request = urllib.request.Request(hook_url(), data=body, headers=headers, method="POST")  # noqa: S310 (http(s))
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=settings.BARTENDER_DEPLOY_HOOK_TIMEOUT_SECONDS) as response:
            return response.status, ""
    except urllib.error.HTTPError as exc:
        return exc.code, f"the deploy hook answered HTTP {exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, f"the deploy hook did not answer: {getattr(exc, 'reason', exc)}"


def _claim(rollback_id: int) -> CodeRollback | None:
    with transaction.atomic():
        rollback = CodeRollback.objects.select_for_update().filter(pk=rollback_id).first()
        if rollback is None or rollback.status != CodeRollback.Status.QUEUED:
            return None
        rollback.status, rollback.started_at = CodeRollback.Status.RUNNING, timezone.now()
        rollback.save(update_fields=["status", "started_at"])
    return rollback


def execute_code_rollback(
    *, rollback_id: int, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic
) -> CodeRollback | None:
    """Call the hook, then wait for the build on the health URL; recorded. None when it was not queued."""
    rollback = _claim(rollback_id)
    if rollback is None:
        return None
    status, error = call_hook(rollback)
    rollback.hook_status = status
    if error:
        rollback.status, rollback.summary = CodeRollback.Status.HOOK_FAILED, f"Nothing was deployed: {error}."
    elif not settings.BARTENDER_HEALTH_URL:
        rollback.status = CodeRollback.Status.UNVERIFIED
        rollback.summary = (f"The deploy hook accepted build {rollback.build} (HTTP {status}); BARTENDER_HEALTH_URL is "
                            "not set, so the panel cannot see it serving: check by hand.")  # fmt: skip
    else:
        url = phase3.health_url()
        wait = phase3.wait_for_build(url, rollback.build, progress=lambda pct, note: None, sleep=sleep, clock=clock)
        rollback.tries, rollback.attempts = wait.tries, wait.attempts
        if wait.matched:
            rollback.status = CodeRollback.Status.DONE
            rollback.summary = (f"The deploy hook accepted build {rollback.build} (HTTP {status}) and {url} serves it "
                                f"after {wait.tries} tr{'y' if wait.tries == 1 else 'ies'}.")  # fmt: skip
        else:
            rollback.status = CodeRollback.Status.TIMED_OUT
            rollback.summary = f"The deploy hook accepted it (HTTP {status}), but: {wait.failure(url, rollback.build)}"
    rollback.finished_at = timezone.now()
    rollback.save()
    _record_outcome(rollback)
    return rollback


def _record_outcome(rollback: CodeRollback) -> None:
    with transaction.atomic():
        state = RolloutState.objects.filter(pk=RolloutState.SINGLETON_ID).first() or locked_state()
        _record(kind=EventKind.CODE_ROLLBACK, actor=rollback.requested_by, target=state, stage_before=state.stage,
                stage_after=state.stage, before={"build": None},
                after={"build": rollback.build, "status": rollback.status, "hook_status": rollback.hook_status,
                       "tries": rollback.tries, "code_rollback": rollback.pk},
                reason=rollback.reason)  # fmt: skip
    incident = incident_selectors.latest_open_incident()
    if incident is not None and rollback.requested_by is not None:
        note_on_incident(incident, actor=rollback.requested_by,
                         message=f"Code rollback (Option B) #{rollback.pk}: {rollback.summary}")  # fmt: skip


def recent(limit: int = 5) -> list[CodeRollback]:
    return list(CodeRollback.objects.all()[:limit])
