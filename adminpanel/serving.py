"""How many PostgreSQL connections the served panel may hold, checked before it serves (`manage.py check_serving`).

Each serving thread keeps one persistent connection (CONN_MAX_AGE), each web worker process one more for the flag
cache's LISTEN, each Celery pool process one, plus the Celery worker, beat and some headroom for commands and
people (psql, migrations, `healthcheck`). The sum must stay under the share of ``max_connections`` at which the
``db_connections`` health check turns critical (80 % by default): above it, the check would alert and, during a
rollout, the automatic rollback would pull the kill switch. Under `runserver` (a thread per request) the same
settings once held 97 idle connections; a server with a fixed pool of threads cannot.
"""

from dataclasses import dataclass
from math import floor

from django.conf import settings
from django.db import connection


@dataclass(frozen=True)
class ConnectionBudget:
    web_workers: int
    web_threads: int
    celery_concurrency: int
    headroom: int
    max_connections: int
    limit_pct: float
    api_workers: int = 0
    api_threads: int = 0

    @property
    def web(self) -> int:
        """One connection per serving thread, plus the flag cache's listener in each worker process."""
        return self.web_workers * (self.web_threads + 1)

    @property
    def api(self) -> int:
        """The client APIs' own server: one connection per thread plus its flag listener, per worker process."""
        return self.api_workers * (self.api_threads + 1)

    @property
    def celery(self) -> int:
        """One per pool process, plus the worker's main process and beat."""
        return self.celery_concurrency + 2

    @property
    def needed(self) -> int:
        return self.web + self.api + self.celery + self.headroom

    @property
    def limit(self) -> int:
        return floor(self.max_connections * self.limit_pct / 100)

    @property
    def fits(self) -> bool:
        return self.needed <= self.limit

    def explain(self) -> str:
        sizes = (
            f"{self.web_workers} web worker(s) x ({self.web_threads} threads + 1 flag listener) = {self.web}, "
            f"{self.api_workers} API worker(s) x ({self.api_threads} threads + 1 flag listener) = {self.api}, "
            f"Celery {self.celery_concurrency} process(es) + worker + beat = {self.celery}, headroom {self.headroom}"
        )
        if self.fits:
            return (
                f"connections: {self.needed} at most ({sizes}) of the {self.limit} allowed "
                f"({self.limit_pct:g} % of max_connections={self.max_connections})"
            )
        return (
            f"refusing to serve: {self.needed} PostgreSQL connections could be held ({sizes}), more than "
            f"{self.limit} ({self.limit_pct:g} % of max_connections={self.max_connections}). Lower WEB_WORKERS, "
            f"WEB_THREADS, API_WORKERS, API_THREADS or CELERY_CONCURRENCY, or raise max_connections in PostgreSQL."
        )


def connection_budget(*, max_connections: int | None = None) -> ConnectionBudget:
    """The budget of the configured sizes against the database's ``max_connections`` (read from it if not given)."""
    if max_connections is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('max_connections')::int")
            max_connections = cursor.fetchone()[0]
    return ConnectionBudget(
        web_workers=settings.WEB_WORKERS,
        web_threads=settings.WEB_THREADS,
        api_workers=settings.API_WORKERS,
        api_threads=settings.API_THREADS,
        celery_concurrency=settings.CELERY_WORKER_CONCURRENCY,
        headroom=settings.DB_CONNECTION_HEADROOM,
        max_connections=max_connections,
        limit_pct=settings.HEALTH_THRESHOLDS["db_connections_critical_pct"],
    )
