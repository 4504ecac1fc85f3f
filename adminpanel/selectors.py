"""Read-side queries for the core pages; each returns a bounded amount of data."""

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Q
from django.db.models.fields.json import KT

from adminpanel.models import AuditLog, Bar, OperatingMode
from adminpanel.roles import managed_bars


def estimated_row_counts(tables: list[str]) -> dict[str, int]:
    """Planner estimates (pg_class.reltuples): never an exact COUNT(*) over millions of rows per page view."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname, GREATEST(reltuples, 0)::bigint FROM pg_class "
            "WHERE relkind = 'r' AND relname = ANY(%s) AND relnamespace = 'public'::regnamespace",
            [tables],
        )
        found = dict(cursor.fetchall())
    return {table: found.get(table, 0) for table in tables}


def bars_for_manager(user, limit: int = 50):
    """The first `limit` bars the user manages, with their mapping counts, in one query."""
    return managed_bars(user).annotate(mapping_count=Count("server_name_mappings")).order_by("name")[:limit]


def recent_errors(limit: int = 10):
    return AuditLog.objects.filter(level=AuditLog.Level.ERROR).select_related("bar").order_by("-created_at")[:limit]


@dataclass(frozen=True)
class Adoption:
    total: int
    simplified: int
    full: int
    unset: int

    @property
    def simplified_pct(self) -> float:
        return round(self.simplified * 100.0 / self.total, 1) if self.total else 0.0


def adoption() -> Adoption:
    """Runbook health check 1 (feature adoption rate), as counts per operating mode."""
    mode = KT("settings__operatingMode")
    counts = Bar.objects.annotate(mode=mode).aggregate(
        total=Count("pk"),
        simplified=Count("pk", filter=Q(mode=OperatingMode.SIMPLIFIED)),
        full=Count("pk", filter=Q(mode=OperatingMode.FULL)),
    )
    return Adoption(
        total=counts["total"],
        simplified=counts["simplified"],
        full=counts["full"],
        unset=counts["total"] - counts["simplified"] - counts["full"],
    )
