"""The request type of views that htmx calls (STYLE.md: a typed ``HtmxHttpRequest``)."""

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails
