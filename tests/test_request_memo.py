"""A page's repeated reads answered once per reading request (adminpanel/request_memo.py), never across requests,
never for a POST, never outside a request."""

from django.http import HttpResponse
from django.test import RequestFactory

from adminpanel.request_memo import RequestMemoMiddleware, memoized


def counting():
    calls = []

    def compute():
        calls.append(1)
        return len(calls)

    return calls, compute


def serve(method: str, compute) -> list:
    seen = []

    def view(request):
        seen.extend([memoized("k", compute), memoized("k", compute)])
        return HttpResponse("ok")

    RequestMemoMiddleware(view)(getattr(RequestFactory(), method)("/"))
    return seen


def test_a_get_computes_once_and_the_next_get_afresh():
    calls, compute = counting()
    assert serve("get", compute) == [1, 1]
    assert serve("get", compute) == [2, 2]
    assert len(calls) == 2


def test_a_post_and_code_outside_a_request_always_compute():
    calls, compute = counting()
    assert serve("post", compute) == [1, 2]
    assert [memoized("k", compute), memoized("k", compute)] == [3, 4]
