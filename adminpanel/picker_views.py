"""The views behind the pickers (``/pick/bars/?q=``, ``/pick/users/?q=``): the ``<option>``s htmx puts in a picker's
``<datalist>`` as a person types; what a requester may find is what they may see (``adminpanel.pickers``)."""

from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from adminpanel.bad_input import text_param
from adminpanel.models.bartender import MemberRole
from adminpanel.pickers import _as_uuid, bars_visible_to, search_bars, search_users


def _query(request) -> str:
    field = text_param(request.GET, "field", label="Field")[:64]
    query = text_param(request.GET, "q", label="Search") if "q" in request.GET else ""
    if not query and field:
        query = text_param(request.GET, field, label="Search")
    return query[:200]


@require_GET
def pick_bars(request):
    """``<option>``s for a bar picker's datalist: bars the requester may see, matching ``q``."""
    found, more = search_bars(request.user, _query(request))
    options = [{"value": label, "label": label} for _, label in found]
    return render(request, "_picker_options.html", {"options": options, "more": more})


@require_GET
def pick_users(request):
    """``<option>``s for a user picker's datalist; ``bar`` narrows to that bar's members (404 for a bar the
    requester may not see), ``roles`` (comma-separated) to those roles, ``active=1`` to active members."""
    bar = None
    bar_text = text_param(request.GET, "bar", label="Bar")
    if bar_text:
        bar_id = _as_uuid(bar_text)
        bar = bars_visible_to(request.user).filter(pk=bar_id).first() if bar_id else None
        if bar is None:
            raise Http404("No such bar.")
    roles = [r for r in text_param(request.GET, "roles", label="Roles").split(",") if r in MemberRole.values]
    found, more = search_users(
        request.user, _query(request), bar=bar, roles=roles or None, active_only=request.GET.get("active") == "1"
    )
    options = [{"value": label, "label": label} for _, label in found]
    return render(request, "_picker_options.html", {"options": options, "more": more})
