"""Is the pipeline alive, as an outside monitor asks it (`manage.py healthcheck`): the broker reachable, a worker
answering a ping, a scheduled health run within two intervals. Pages never call this (a broker round-trip); they
read `freshness.pipeline_state` instead."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from celery import current_app as app  # the project's Celery app (config.celery), without importing the project
from django.conf import settings
from django.utils import timezone
from kombu.exceptions import OperationalError

from monitoring.models import HealthRun

EXIT_BROKER_DOWN = 5
EXIT_NO_WORKER = 6
EXIT_CHECKS_STALE = 7


@dataclass(frozen=True)
class PipelineFault:
    exit_code: int
    line: str


def broker_where() -> str:
    """host:port/db of the broker, never its password."""
    url = urlsplit(settings.CELERY_BROKER_URL)
    return f"{url.hostname}:{url.port or 6379}{url.path or ''}"


def broker_error() -> str | None:
    """Why the broker cannot be reached now, or None when it can (one connect, no retry)."""
    try:
        with app.connection_for_write(settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=0)
    except (OperationalError, OSError) as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return None


def answering_workers(timeout: float) -> list[str]:
    """The names of the workers that answered a ping within `timeout` seconds."""
    return sorted(name for reply in app.control.ping(timeout=timeout) or [] for name in reply)


def last_scheduled_run_at() -> datetime | None:
    # Only beat's runs: a cron job running this command every 5 minutes must not make a dead beat look alive.
    return (
        HealthRun.objects.filter(trigger=HealthRun.Trigger.SCHEDULE, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )


def _minutes(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 60:.0f} min"


def fault(*, ping_timeout: float = 2.0, now: datetime | None = None) -> PipelineFault | None:
    """The first thing wrong with the pipeline (broker, then workers, then beat's runs), or None. The database is
    read first, so an unreachable database raises as it did before (the command's exit 3)."""
    last = last_scheduled_run_at()
    error = broker_error()
    if error is not None:
        return PipelineFault(
            EXIT_BROKER_DOWN, f"critical: the Celery broker at {broker_where()} is unreachable ({error})"
        )
    if not answering_workers(ping_timeout):
        return PipelineFault(EXIT_NO_WORKER, f"critical: no Celery worker answered a ping within {ping_timeout:g} s")
    now = now or timezone.now()
    stale_after = timedelta(minutes=settings.HEALTH_STALE_AFTER_MINUTES)
    every = timedelta(seconds=settings.HEALTH_RUN_INTERVAL_SECONDS)
    if last is None:
        return PipelineFault(
            EXIT_CHECKS_STALE,
            f"critical: checks are stale: no scheduled health run has finished (beat runs one every {_minutes(every)})",
        )
    if last < now - stale_after:
        return PipelineFault(
            EXIT_CHECKS_STALE,
            f"critical: checks are stale: the last scheduled health run finished {_minutes(now - last)} ago "
            f"(one every {_minutes(every)}; stale after {_minutes(stale_after)}): is beat running?",
        )
    return None
