"""The rollout history: the timeline page and its CSV export."""

from django.http import HttpRequest
from django.shortcuts import render
from django.views.decorators.http import require_GET

from adminpanel.csv_export import csv_lines, csv_response
from adminpanel.paging import IdKeyset, keyset_page
from rollout import permissions
from rollout.events import selectors
from rollout.forms import TimelineFilter
from rollout.responses import require

TIMELINE_PAGE = 100


# --- History --------------------------------------------------------------------------------------
@require_GET
def history(request: HttpRequest):
    """The whole timeline, filterable, newest first, by pages of the id (no COUNT over the table)."""
    require(permissions.can_view(request.user))
    events = TimelineFilter(request.GET, queryset=selectors.timeline())
    page = keyset_page(
        events.qs,
        keyset=IdKeyset,
        size=TIMELINE_PAGE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    query = request.GET.copy()
    for name in ("after", "before"):
        query.pop(name, None)
    root_cause = selectors.root_cause_links(page.rows)
    for event in page.rows:
        event.root_cause_url = root_cause.get(event.pk)  # each rollback links to its root-cause page
    return render(
        request,
        "rollout/history.html",
        {
            "filter": events,
            "events": [(event, selectors.event_summary(event)) for event in page.rows],
            "page": page,
            "query": query.urlencode(),
        },
    )


@require_GET
def history_csv(request: HttpRequest):
    require(permissions.can_view(request.user))
    events = TimelineFilter(request.GET, queryset=selectors.timeline()).qs
    return csv_response(csv_lines(selectors.CSV_COLUMNS, selectors.timeline_csv_rows(events)), prefix="rollout-history")
