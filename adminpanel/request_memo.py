"""Reads that one page asks for more than once (the latest health run, the open critical alerts, the kill switch,
the latest backfill) answered once per GET request: the cockpit, the gates and the overview each ask for them.

Only reading requests (GET, HEAD) get a memo: a POST changes state and must read it afresh. Outside a request
(Celery tasks, management commands, tests calling selectors) nothing is remembered."""

from collections.abc import Callable
from contextvars import ContextVar

_memo: ContextVar[dict | None] = ContextVar("request_memo", default=None)
SAFE_METHODS = {"GET", "HEAD"}


def memoized[T](key: str, compute: Callable[[], T]) -> T:
    """`compute()` once per reading request under `key`; every call outside one computes afresh."""
    memo = _memo.get()
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]


class RequestMemoMiddleware:
    """Opens a memo for each GET or HEAD request and drops it with the response."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method not in SAFE_METHODS:
            return self.get_response(request)
        token = _memo.set({})
        try:
            return self.get_response(request)
        finally:
            _memo.reset(token)
