"""Read-side queries for the mappings pages; each issues a fixed number of queries whatever the row count."""

import difflib
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from django.conf import settings
from django.core.paginator import Paginator
from django.db.models import Count, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.html import format_html

from adminpanel.models import PanelEvent, Sale
from adminpanel.models.bartender import full_name_of, login_of
from mappings.access import viewable_bars
from mappings.models import ServerNameMapping
from mappings.models.mapping import eligible_members
from mappings.names import normalize_server_name, server_name_problem
from mappings.services import MAPPING_TARGET


def bar_picker(user, *, query: str = "", page: int | str = 1, per_page: int = 50):
    """A page of the bars the user may see, by name, each with its mapping count."""
    mapping_count = (
        ServerNameMapping.objects.filter(bar=OuterRef("pk")).order_by().values("bar").annotate(n=Count("*")).values("n")
    )
    bars = viewable_bars(user).annotate(
        mapping_count=Coalesce(Subquery(mapping_count, output_field=IntegerField()), Value(0))
    )
    if query.strip():
        bars = bars.filter(name__icontains=query.strip())
    return Paginator(bars.order_by("name", "pk"), per_page).get_page(page)


@dataclass(frozen=True)
class Member:
    user_id: str
    username: str
    label: str
    role: str
    key: str  # the normalised display name, for suggestions

    @cached_property
    def options(self) -> dict[tuple[bool, bool], str]:
        """This member's <option> markup by (with_role, selected), escaped once however many selects show it."""
        text = f"{self.label} · {self.role}"
        return {
            (with_role, selected): format_html(
                '<option value="{}"{}>{}</option>',
                self.user_id,
                " selected" if selected else "",
                text if with_role else self.label,
            )
            for with_role in (False, True)
            for selected in (False, True)
        }


def members_for(bar) -> list[Member]:
    """The members a name may be mapped to, as select options (one query)."""
    rows = (
        eligible_members(bar.pk)
        .annotate(login=login_of("user__"), full_name=full_name_of("user__"))
        .order_by("full_name", "login")
        .values_list("user_id", "login", "full_name", "role")
    )
    return [
        Member(
            user_id=str(user_id),
            username=username,
            label=f"{display_name} ({username})" if display_name else username,
            role=role,
            key=normalize_server_name(display_name or username),
        )
        for user_id, username, display_name, role in rows
    ]


def mappings_page(bar, *, query: str = "", page: int | str = 1):
    """A page of the bar's mappings with their users (two queries: count and rows)."""
    mappings = ServerNameMapping.objects.filter(bar=bar).select_related("user").order_by("normalized_name", "pk")
    key = normalize_server_name(query)
    if key:
        mappings = mappings.annotate(login=login_of("user__"), full_name=full_name_of("user__")).filter(
            Q(normalized_name__contains=key) | Q(login__icontains=key) | Q(full_name__icontains=key)
        )
    return Paginator(mappings, settings.MAPPINGS_PAGE_SIZE).get_page(page)


@dataclass
class UnmappedName:
    """Sales whose typed names share one normalised key and match no mapping."""

    key: str
    sales: int = 0
    recent_sales: int = 0
    last_seen: datetime | None = None
    variants: dict[str, int] = field(default_factory=dict)
    suggested_user_id: str = ""

    @property
    def label(self) -> str:
        """The spelling typed most often, which a one-click mapping uses."""
        return max(self.variants.items(), key=lambda item: (item[1], item[0]))[0].strip()

    @property
    def problem(self) -> str | None:
        return server_name_problem(self.key)

    @property
    def other_spellings(self) -> list[str]:
        label = self.label
        return sorted({variant.strip() for variant in self.variants} - {label})


@dataclass
class NameReport:
    """Coverage of a bar's typed server names by its mappings, and the names no mapping covers."""

    days: int
    recent_sales: int = 0
    recent_mapped: int = 0
    unmapped: list[UnmappedName] = field(default_factory=list)

    @property
    def coverage_pct(self) -> float | None:
        if not self.recent_sales:
            return None
        return round(self.recent_mapped * 100.0 / self.recent_sales, 1)

    @property
    def recent_unmapped(self) -> int:
        return self.recent_sales - self.recent_mapped


def name_report(bar, *, days: int | None = None, now: datetime | None = None) -> NameReport:
    """Two queries: the bar's typed names with counts and last-seen (index-only), and which of them are mapped.

    Coverage counts the sales of the last `days` days that carry a typed name; names that normalise to
    nothing are left out of both the figure and the list (no mapping can cover them).
    """
    days = days or settings.MAPPINGS_COVERAGE_DAYS
    since = (now or timezone.now()) - timedelta(days=days)
    stats = (
        Sale.objects.filter(bar_id=bar.pk, server_name__isnull=False)
        .order_by()
        .values_list("server_name")
        .annotate(
            total=Count("*"), recent=Count("created_at", filter=Q(created_at__gte=since)), last_seen=Max("created_at")
        )
    )
    by_key: dict[str, UnmappedName] = {}
    for server_name, total, recent, last_seen in stats:
        key = normalize_server_name(server_name)
        if not key:
            continue
        entry = by_key.setdefault(key, UnmappedName(key=key))
        entry.sales += total
        entry.recent_sales += recent
        entry.variants[server_name] = entry.variants.get(server_name, 0) + total
        if entry.last_seen is None or last_seen > entry.last_seen:
            entry.last_seen = last_seen
    mapped = set(
        ServerNameMapping.objects.filter(bar_id=bar.pk, normalized_name__in=list(by_key)).values_list(
            "normalized_name", flat=True
        )
    )
    report = NameReport(days=days)
    for key, entry in by_key.items():
        report.recent_sales += entry.recent_sales
        if key in mapped:
            report.recent_mapped += entry.recent_sales
        else:
            report.unmapped.append(entry)
    report.unmapped.sort(key=lambda e: (-e.sales, -(e.last_seen.timestamp() if e.last_seen else 0), e.key))
    return report


def _fold_accents(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def suggest_members(names: list[UnmappedName], members: list[Member]) -> None:
    """Pre-select, for each unmapped name, the member it most plausibly means (accents and typos forgiven).

    Typos are scored (difflib) only against members sharing a word or the first two letters with the name,
    which keeps a page of a hundred names against dozens of members cheap.
    """
    folded: dict[str, list[Member]] = {}
    for member in members:
        folded.setdefault(_fold_accents(member.key), []).append(member)
    by_hint: dict[str, set[str]] = {}
    for key in folded:
        for hint in _hints(key):
            by_hint.setdefault(hint, set()).add(key)
    for name in names:
        key = _fold_accents(name.key)
        candidates = folded.get(key) or []
        if not candidates:
            near = sorted(set().union(*(by_hint.get(hint, ()) for hint in _hints(key))))
            close = difflib.get_close_matches(key, near, n=1, cutoff=0.75)
            candidates = folded[close[0]] if close else []
        name.suggested_user_id = candidates[0].user_id if len(candidates) == 1 else ""


def _hints(key: str) -> set[str]:
    return {f"w:{word}" for word in key.split()} | {f"p:{key[:2]}"}


def mapping_events(bar):
    """The bar's mapping changes (unordered: the key pager orders them newest first)."""
    return PanelEvent.objects.filter(bar=bar, target_type=MAPPING_TARGET)


def mapping_history(bar, *, limit: int) -> list[PanelEvent]:
    """The bar's latest mapping changes, newest first (the bar page's history section)."""
    return list(mapping_events(bar).order_by("-pk")[:limit])


def mapped_users(names: list[tuple[object, str]]) -> dict[tuple[str, str], str]:
    """For (bar id, typed name) pairs, the BarTender user each name is mapped to in its bar, keyed by
    (bar id, normalised name) as text; one query, names without a mapping absent."""
    keys = {(str(bar_id), normalize_server_name(name or "")) for bar_id, name in names}
    if not keys:
        return {}
    query = Q()
    for bar_id, key in keys:
        query |= Q(bar_id=bar_id, normalized_name=key)
    rows = ServerNameMapping.objects.filter(query).values_list("bar_id", "normalized_name", "user_id")
    return {(str(bar_id), key): str(user_id) for bar_id, key, user_id in rows}


def mapping_counts(bar_ids) -> dict:
    """How many server name mappings each of these bars has (bars without one are absent)."""
    return dict(
        ServerNameMapping.objects.filter(bar_id__in=list(bar_ids))
        .values("bar_id")
        .annotate(n=Count("pk"))
        .values_list("bar_id", "n")
    )
