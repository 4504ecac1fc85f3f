"""The resolution API for BarTender clients: ``POST /api/v1/bars/<bar_id>/resolve-server`` with ``{"name": …}``.

200 with the user, or 422 with a machine-readable ``error`` code (``unknown_server_name``,
``invalid_server_name``, ``inactive_server``, ``ambiguous_name``); every 422 writes an ``audit_logs`` row
(``error_type = server_id_resolution``) for the health checks' error rate. Requests that are not a
resolution at all (no token or an expired one, a bar outside the token's scope, a malformed bar id or body) are
answered 401/403/400/404 and not counted.
"""

import json
import uuid

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from adminpanel.api_auth import api_client_or_refusal, api_error, bar_scope_refusal
from adminpanel.models import Bar
from mappings.resolve import ServerNameResolutionError, resolve_server_name_in_detail
from mappings.services import record_resolution_refusal

_error = api_error


@csrf_exempt
@login_not_required
def resolve_server(request, bar_id: str):
    if request.method != "POST":
        return _error(405, "method_not_allowed", "Use POST.", Allow="POST")
    client, refusal = api_client_or_refusal(request)
    if refusal is not None:
        return refusal
    try:
        bar_uuid = uuid.UUID(bar_id)
    except ValueError:
        return _error(400, "invalid_bar_id", "The bar id is not a UUID.")
    refusal = bar_scope_refusal(client, bar_uuid)
    if refusal is not None:
        return refusal
    bar = Bar.objects.filter(pk=bar_uuid).first()
    if bar is None:
        return _error(404, "bar_not_found", "No such bar.")
    try:
        payload = json.loads(request.body or b"null")
    except RequestDataTooBig:
        return _error(413, "request_too_large", "The request body is too large.")
    except (ValueError, UnicodeDecodeError, RecursionError):
        # RecursionError: JSON nested thousands of levels deep (the decoder recurses once per level).
        return _error(400, "invalid_json", 'The body must be JSON: {"name": "…"}.')
    name = payload.get("name") if isinstance(payload, dict) else None
    if not isinstance(name, str):
        return _error(400, "invalid_request", 'The body must be a JSON object with a string "name".')
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800") decodes from JSON but is no text
        return _error(400, "invalid_request", 'The "name" is not valid text (it holds a lone UTF-16 surrogate).')
    try:
        resolution = resolve_server_name_in_detail(bar=bar, name=name)
    except ServerNameResolutionError as error:
        record_resolution_refusal(bar=bar, name=name, error=error, source="api", client=client)
        return JsonResponse(error.as_dict(), status=422)
    return JsonResponse(resolution.as_dict())
