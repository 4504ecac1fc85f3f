"""The mappings pages: bar picker, a bar's mappings (inline htmx editing), unmapped names, CSV import and
export, the resolver tester and history. Each view checks access, calls one service or selector, renders.

Forms work without JavaScript: a plain POST answers with a redirect (or the full form page with its errors);
an htmx POST answers with the partial it swaps, and ``HX-Trigger: mappings-changed`` after every change so
the page's other sections (coverage, unmapped names, history) refresh themselves (``mapping-added`` also
refreshes the table, which edits and deletes do not need: they swap their own row). The sections use
``hx-sync="this:replace"``: htmx would otherwise drop a refresh while an older one is still in flight, and
show the older state.
"""

import json

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from adminpanel.bad_input import text_param
from adminpanel.htmx import HtmxHttpRequest
from adminpanel.models.bartender import login_of
from adminpanel.paging import IdKeyset, keyset_page
from mappings import selectors, services
from mappings.access import bar_access
from mappings.forms import ImportForm, MappingForm
from mappings.mapping_csv import CsvFileError, check_upload_size, export_lines, human_size
from mappings.models import MappingImport, ServerNameMapping
from mappings.names import normalize_server_name
from mappings.resolve import ServerNameResolutionError, resolve_server_name_in_detail

CHANGED_EVENT = "mappings-changed"
ADDED_EVENT = "mapping-added"
SECTIONS = ("coverage", "table", "unmapped", "history")


def _changed(response: HttpResponse, *, added: bool = False) -> HttpResponse:
    """Tell the page's sections to refresh; the table (rows and count) when a row was added or deleted (edits
    swap their own row and change no count)."""
    if added:
        trigger_client_event(response, ADDED_EVENT)
    return trigger_client_event(response, CHANGED_EVENT)


def _next_url(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return default


def _page_number(request) -> str:
    return request.GET.get("page") or "1"


@require_GET
def bar_list(request: HtmxHttpRequest):
    query = text_param(request.GET, "q", label="The search")
    page = selectors.bar_picker(request.user, query=query, page=_page_number(request))
    template = "mappings/_bar_table.html" if request.htmx else "mappings/bar_list.html"
    return render(request, template, {"page": page, "query": query})


def _sections_context(request, access, sections) -> dict:
    """What the named sections of a bar's page show; the name report is computed once for both its users."""
    bar = access.bar
    context = {"bar": bar, "can_edit": access.can_edit}
    if "coverage" in sections or "unmapped" in sections:
        report = selectors.name_report(bar)
        context["report"] = report
        if "unmapped" in sections:
            members = selectors.members_for(bar)
            top = report.unmapped[: settings.MAPPINGS_UNMAPPED_ON_BAR_PAGE]
            selectors.suggest_members(top, members)
            context.update(unmapped=top, members=members, more_unmapped=len(report.unmapped) - len(top))
    if "table" in sections:
        query = text_param(request.GET, "q", label="The search")
        context.update(page=selectors.mappings_page(bar, query=query, page=_page_number(request)), query=query)
    if "history" in sections:
        context["events"] = selectors.mapping_history(bar, limit=settings.MAPPINGS_HISTORY_ON_BAR_PAGE)
    return context


@require_GET
def bar_detail(request: HtmxHttpRequest, bar_id):
    """The bar's page: coverage, mappings (searchable, paged), top unmapped names, recent history.

    An htmx request gets one section (`?section=`), which is how sections refresh after a change.
    """
    access = bar_access(request.user, bar_id)
    if request.htmx:
        section = request.GET.get("section", "table")
        section = section if section in SECTIONS else "table"
        return render(request, f"mappings/_{section}.html", _sections_context(request, access, {section}))
    context = _sections_context(request, access, set(SECTIONS))
    context["add"] = {"server_name": "", "user": ""}
    return render(request, "mappings/bar_detail.html", context)


def _form_values(data) -> dict:
    return {"server_name": data.get("server_name", ""), "user": data.get("user", "")}


def _form_page(request, access, *, form, values, mapping=None):
    """The full-page form (no JavaScript, or a link that pre-fills a name)."""
    return render(
        request,
        "mappings/mapping_form.html",
        {
            "bar": access.bar,
            "mapping": mapping,
            "form": form,
            "values": values,
            "members": selectors.members_for(access.bar),
            "next": _next_url(request, reverse("mappings:bar_detail", args=[access.bar.pk])),
        },
    )


def _submit(form, call) -> ServerNameMapping | None:
    """Run a service call for a bound form; its `ValidationError` becomes errors beside the fields."""
    if not form.is_valid():
        return None
    try:
        return call(form.cleaned_data)
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
        for field, messages_ in errors.items():
            form.add_error(field if field in form.fields else None, messages_)
        return None


@require_http_methods(["GET", "POST"])
def mapping_create(request: HtmxHttpRequest, bar_id):
    """Add a mapping: the inline form on the bar's page, one click on an unmapped name, or the full form."""
    access = bar_access(request.user, bar_id, write=True)
    if request.method == "GET":
        return _form_page(request, access, form=MappingForm(bar=access.bar), values=_form_values(request.GET))
    form = MappingForm(request.POST, bar=access.bar)
    mapping = _submit(
        form,
        lambda data: services.create_mapping(
            bar=access.bar, server_name=data["server_name"], user=data["user"], actor=request.user
        ),
    )
    source = request.POST.get("source", "add")
    if request.htmx:
        members = selectors.members_for(access.bar)
        if source == "unmapped":
            context = {
                "bar": access.bar,
                "members": members,
                "name": request.POST.get("server_name", ""),
                "selected": request.POST.get("user", ""),
                "row_id": "".join(ch for ch in request.POST.get("row", "") if ch.isdigit())[:6],
                "form": form,
                "mapping": mapping,
                "can_edit": True,
            }
            response = render(request, "mappings/_unmapped_map_form.html", context)
        else:
            context = {
                "bar": access.bar,
                "members": members,
                "form": form,
                "created": mapping,
                "add": {"server_name": "", "user": ""} if mapping else _form_values(request.POST),
            }
            response = render(request, "mappings/_mapping_add_form.html", context)
        return _changed(response, added=True) if mapping else response
    if mapping is None:
        return _form_page(request, access, form=form, values=_form_values(request.POST))
    messages.success(request, f"Mapped “{mapping.server_name}” to {mapping.user}.")
    return redirect(_next_url(request, reverse("mappings:bar_detail", args=[access.bar.pk])))


@require_http_methods(["GET", "POST"])
def mapping_edit(request: HtmxHttpRequest, bar_id, pk: int):
    access = bar_access(request.user, bar_id, write=True)
    mapping = get_object_or_404(ServerNameMapping.objects.select_related("user"), pk=pk, bar=access.bar)
    if request.method == "GET":
        values = {"server_name": mapping.server_name, "user": str(mapping.user_id)}
        if request.htmx:
            return _edit_row(request, access, mapping, MappingForm(bar=access.bar), values)
        return _form_page(request, access, form=MappingForm(bar=access.bar), values=values, mapping=mapping)
    form = MappingForm(request.POST, bar=access.bar)
    updated = _submit(
        form,
        lambda data: services.update_mapping(
            mapping=mapping, server_name=data["server_name"], user=data["user"], actor=request.user
        ),
    )
    if request.htmx:
        if updated is None:
            return _edit_row(request, access, mapping, form, _form_values(request.POST))
        return _changed(
            render(request, "mappings/_mapping_row.html", {"bar": access.bar, "m": updated, "can_edit": True})
        )
    if updated is None:
        return _form_page(request, access, form=form, values=_form_values(request.POST), mapping=mapping)
    messages.success(request, f"Saved “{updated.server_name}” → {updated.user}.")
    return redirect(_next_url(request, reverse("mappings:bar_detail", args=[access.bar.pk])))


def _edit_row(request, access, mapping, form, values):
    context = {
        "bar": access.bar,
        "m": mapping,
        "form": form,
        "values": values,
        "members": selectors.members_for(access.bar),
    }
    return render(request, "mappings/_mapping_edit_row.html", context)


@require_GET
def mapping_row(request: HtmxHttpRequest, bar_id, pk: int):
    """One mapping as a table row (what "Cancel" on an inline edit swaps back in)."""
    access = bar_access(request.user, bar_id)
    mapping = get_object_or_404(ServerNameMapping.objects.select_related("user"), pk=pk, bar=access.bar)
    return render(request, "mappings/_mapping_row.html", {"bar": access.bar, "m": mapping, "can_edit": access.can_edit})


@require_POST
def mapping_delete(request: HtmxHttpRequest, bar_id, pk: int):
    access = bar_access(request.user, bar_id, write=True)
    mapping = get_object_or_404(ServerNameMapping.objects.select_related("user"), pk=pk, bar=access.bar)
    services.delete_mapping(mapping=mapping, actor=request.user)
    if request.htmx:
        # The row goes, and the table (its rows and its "N mappings" count, from one query) reloads with it.
        return _changed(HttpResponse(""), added=True)
    messages.success(request, f"Deleted the mapping of “{mapping.server_name}”.")
    return redirect(_next_url(request, reverse("mappings:bar_detail", args=[access.bar.pk])))


@require_GET
def unmapped(request: HtmxHttpRequest, bar_id):
    """Every typed name of the bar that no mapping covers, most sales first, each mappable in one click."""
    access = bar_access(request.user, bar_id)
    report = selectors.name_report(access.bar)
    members = selectors.members_for(access.bar)
    page = Paginator(report.unmapped, settings.MAPPINGS_UNMAPPED_PAGE_SIZE).get_page(_page_number(request))
    selectors.suggest_members(page.object_list, members)
    context = {"bar": access.bar, "can_edit": access.can_edit, "report": report, "members": members, "page": page}
    template = "mappings/_unmapped_list.html" if request.htmx else "mappings/unmapped.html"
    return render(request, template, context)


@require_GET
def export_csv(request, bar_id):
    access = bar_access(request.user, bar_id)
    pairs = (
        ServerNameMapping.objects.filter(bar=access.bar)
        .order_by("normalized_name")
        .annotate(login=login_of("user__"))
        .values_list("server_name", "login")
        .iterator(chunk_size=2000)
    )
    response = StreamingHttpResponse(export_lines(pairs), content_type="text/csv; charset=utf-8")
    filename = f"mappings-{slugify(access.bar.name) or access.bar.pk}-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_http_methods(["GET", "POST"])
def import_upload(request, bar_id):
    """Upload a CSV and see what it would do; nothing is written until the preview is applied."""
    access = bar_access(request.user, bar_id, write=True)
    context = {
        "bar": access.bar,
        "max_mb": human_size(settings.MAPPINGS_IMPORT_MAX_BYTES),
        "max_rows": settings.MAPPINGS_IMPORT_MAX_ROWS,
    }
    if request.method == "GET":
        return render(request, "mappings/import.html", {**context, "form": ImportForm()})
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, "mappings/import.html", {**context, "form": form})
    upload = form.cleaned_data["file"]
    try:
        check_upload_size(upload.size, max_bytes=settings.MAPPINGS_IMPORT_MAX_BYTES)
        plan, pending = services.preview_import(
            bar=access.bar, actor=request.user, filename=upload.name, data=upload.read()
        )
    except CsvFileError as exc:
        form.add_error("file", str(exc))
        return render(request, "mappings/import.html", {**context, "form": form})
    return render(request, "mappings/import_preview.html", {**context, "plan": plan, "pending": pending})


@require_POST
def import_apply(request, bar_id, import_id):
    access = bar_access(request.user, bar_id, write=True)
    pending = get_object_or_404(
        MappingImport.objects.select_related("bar"),
        pk=import_id,
        bar=access.bar,
        created_by=request.user,
        applied_at__isnull=True,
    )
    try:
        plan = services.apply_import(mapping_import=pending, actor=request.user)
    except services.ImportRefused as refused:
        context = {"bar": access.bar, "plan": refused.plan, "pending": None, "refused": True}
        return render(request, "mappings/import_preview.html", context, status=409)
    summary = plan.summary
    messages.success(
        request,
        f"Imported {pending.filename or 'the file'}: {summary['add']} added, {summary['change']} changed, "
        f"{summary['unchanged']} unchanged.",
    )
    return redirect("mappings:bar_detail", bar_id=access.bar.pk)


@require_GET
def tester(request: HtmxHttpRequest, bar_id):
    """Type a name, see the user it resolves to or the exact error (status and body) the POS would get."""
    access = bar_access(request.user, bar_id)
    name = request.GET.get("name")
    result = None
    if name is not None:
        try:
            resolution = resolve_server_name_in_detail(bar=access.bar, name=name)
            result = {"ok": True, "status": 200, "body": resolution.as_dict(), "user": resolution.user}
        except ServerNameResolutionError as error:
            result = {"ok": False, "status": 422, "body": error.as_dict(), "error": error}
        result["key"] = normalize_server_name(name)
        result["json"] = json.dumps(result["body"], indent=2, ensure_ascii=False)
    context = {"bar": access.bar, "can_edit": access.can_edit, "name": name or "", "result": result}
    template = "mappings/_tester_result.html" if request.htmx else "mappings/tester.html"
    return render(request, template, context)


@require_GET
def history(request: HtmxHttpRequest, bar_id):
    """Every change of the bar's mappings, newest first, by key pages (a cursor that is not ours is ignored)."""
    access = bar_access(request.user, bar_id)
    page = keyset_page(
        selectors.mapping_events(access.bar),
        keyset=IdKeyset,
        size=settings.MAPPINGS_PAGE_SIZE,
        after=request.GET.get("after", ""),
        before=request.GET.get("before", ""),
    )
    context = {"bar": access.bar, "can_edit": access.can_edit, "events": page.rows, "page": page}
    return render(request, "mappings/history.html", context)
