"""How fresh the health checks are, as every page's banner reads it (two indexed reads, no broker round-trip): the
last finished run, and the workers' heartbeats beat asks for (``monitoring.tasks.heartbeat``)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from monitoring.models import HealthRun, WorkerHeartbeat


@dataclass(frozen=True)
class Freshness:
    last_run: HealthRun | None
    stale_after: timedelta

    @property
    def is_stale(self) -> bool:
        if self.last_run is None:
            return True
        return self.last_run.finished_at < timezone.now() - self.stale_after


def freshness() -> Freshness:
    """The last finished run and whether it is older than ``HEALTH_STALE_AFTER_MINUTES`` (worker or beat down)."""
    last = HealthRun.objects.filter(finished_at__isnull=False).order_by("-finished_at").first()
    return Freshness(last_run=last, stale_after=timedelta(minutes=settings.HEALTH_STALE_AFTER_MINUTES))


def record_heartbeat(hostname: str, *, now: datetime | None = None) -> None:
    """Stamp a worker's heartbeat row (beat's proof that a worker does work)."""
    WorkerHeartbeat.objects.update_or_create(hostname=hostname[:255], defaults={"finished_at": now or timezone.now()})


@dataclass(frozen=True)
class PipelineState:
    """What every page's banner says: are the checks stale, has a worker done work lately (two indexed reads)."""

    last_run_at: datetime | None
    worker_seen_at: datetime | None
    checks_stale: bool
    no_worker: bool

    @property
    def is_down(self) -> bool:
        return self.checks_stale or self.no_worker


def pipeline_state(*, now: datetime | None = None) -> PipelineState:
    """Whether the checks are stale and whether a worker was seen lately, for every page's banner."""
    now = now or timezone.now()
    last_run_at = (
        HealthRun.objects.filter(finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    seen_at = WorkerHeartbeat.objects.order_by("-finished_at").values_list("finished_at", flat=True).first()
    return PipelineState(
        last_run_at=last_run_at,
        worker_seen_at=seen_at,
        checks_stale=last_run_at is None or last_run_at < now - timedelta(minutes=settings.HEALTH_STALE_AFTER_MINUTES),
        no_worker=seen_at is None or seen_at < now - timedelta(seconds=settings.WORKER_STALE_AFTER_SECONDS),
    )
