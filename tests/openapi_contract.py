"""Every client-API answer the test suite gets is checked against the OpenAPI document (adminpanel/openapi.py).

tests/conftest.py wraps Django's test client with `check_response`, so each response to a request on a client-API
path (``/api/…`` but the docs page, ``/ofrep/…``, ``/hooks/…``) must be a documented status of a documented
operation, with the documented headers, and a JSON body valid against the operation's schema (JSON Schema 2020-12,
as OpenAPI 3.1 defines it; formats checked). A route that is not in the document may only answer 404.
"""

import json
import re
from functools import lru_cache
from urllib.parse import quote

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from adminpanel.openapi import build

CLIENT_API_PREFIXES = ("/api/", "/ofrep/", "/hooks/")
NOT_CLIENT_API = ("/api/docs/",)
DOCUMENT_URI = "urn:bartender:openapi"


class ContractViolation(AssertionError):
    """A client-API answer that the OpenAPI document does not allow."""


@lru_cache(maxsize=1)
def _document() -> dict:
    return build()


@lru_cache(maxsize=1)
def _registry() -> Registry:
    return Registry().with_resource(DOCUMENT_URI, Resource.from_contents(_document(), DRAFT202012))


@lru_cache(maxsize=1)
def _routes() -> list[tuple[re.Pattern, str]]:
    routes = []
    for template in _document()["paths"]:
        pattern = re.escape(template).replace(r"\{", "{").replace(r"\}", "}")
        routes.append((re.compile("^" + re.sub(r"{[^/}]+}", "[^/]+", pattern) + "$"), template))
    return routes


def _pointer(*parts: str) -> str:
    return "/".join(quote(part.replace("~", "~0").replace("/", "~1"), safe="") for part in parts)


@lru_cache(maxsize=128)
def _validator(*parts: str) -> Draft202012Validator:
    schema = {"$ref": f"{DOCUMENT_URI}#/{_pointer(*parts)}"}
    return Draft202012Validator(schema, registry=_registry(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def is_client_api(path: str) -> bool:
    return path.startswith(CLIENT_API_PREFIXES) and not path.startswith(NOT_CLIENT_API)


def check(method: str, path: str, status: int, headers, body: bytes, *, host_allowed: bool = True) -> None:
    """Raise ContractViolation unless the document allows this answer to `method path` (a request whose Host is
    outside ALLOWED_HOSTS is refused 400 by the serving layer before any route, and is not the API's answer)."""
    if not is_client_api(path) or (status == 400 and not host_allowed):
        return
    template = next((template for pattern, template in _routes() if pattern.match(path)), None)
    if template is None:
        if status != 404:
            raise ContractViolation(f"{method} {path} answered {status}: the route is not in the OpenAPI document")
        return
    item = _document()["paths"][template]
    documented = "get" if method == "HEAD" and "get" in item else method.lower()
    if documented not in item:
        if status != 405:
            raise ContractViolation(f"{method} {template} answered {status}: the method is not documented")
        return
    responses = item[documented]["responses"]
    answer = responses.get(str(status))
    if answer is None:
        raise ContractViolation(f"{method} {template} answered {status}, not one of {sorted(responses)}")
    for name in answer.get("headers", {}):
        if not headers.get(name):
            raise ContractViolation(f"{method} {template} {status} lacks the documented {name} header")
    content = answer.get("content")
    if status == 304 and body:
        raise ContractViolation(f"{method} {template} 304 has a body")
    if not content or method == "HEAD":
        return
    content_type = (headers.get("Content-Type") or "").split(";")[0].strip()
    if content_type not in content:
        raise ContractViolation(f"{method} {template} {status} is {content_type!r}, documented {sorted(content)}")
    try:
        data = json.loads(body)
    except ValueError as error:
        raise ContractViolation(f"{method} {template} {status}: the body is not JSON ({error})") from None
    validator = _validator("paths", template, documented, "responses", str(status), "content", content_type, "schema")
    try:
        validator.validate(data)
    except ValidationError as error:
        where = "/".join(str(part) for part in error.absolute_path) or "(the body)"
        raise ContractViolation(
            f"{method} {template} {status}: {where}: {error.message} — the answer drifted from the OpenAPI document"
        ) from None


def check_django_response(response) -> None:
    from django.conf import settings
    from django.http.request import split_domain_port, validate_host

    request = response.request
    if getattr(response, "streaming", False):
        return
    domain, _ = split_domain_port(request.get("HTTP_HOST", request.get("SERVER_NAME", "testserver")))
    allowed = validate_host(domain, [*settings.ALLOWED_HOSTS, "testserver"])
    check(
        request["REQUEST_METHOD"],
        request["PATH_INFO"],
        response.status_code,
        response.headers,
        response.content,
        host_allowed=allowed,
    )


def check_requests_response(response, *args, **kwargs) -> None:
    """A `requests` response hook (the OpenFeature provider's session talks to a live server through requests)."""
    from urllib.parse import urlsplit

    check(
        response.request.method, urlsplit(response.url).path, response.status_code, response.headers, response.content
    )
