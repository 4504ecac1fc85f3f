from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from adminpanel.celery import app as celery_app
from adminpanel.permissions import FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from backfill.models import BackfillRun, ValidationRun
from monitoring.models import CheckStatus, HealthRun, PhaseWindow
from rollout.models import ENABLE_SWITCHING_MODE, SHOW_SWITCHING_MODE_UI, FeatureFlag, RolloutState
from tests.factories import make_product


def meet_runbook_prerequisites(*, at=None) -> None:
    """What stage 4a needs from Phases 2 and 3: a finished backfill over every bar, a passing validation after it,
    and a passed Phase 3 window (rows as those features store them)."""
    at = at or timezone.now() - timedelta(hours=2)
    BackfillRun.objects.create(
        status=BackfillRun.Status.FINISHED, phase=BackfillRun.Phase.DONE, configured_batch_size=5000, batch_size=5000,
        started_at=at, updated_at=at, finished_at=at,
    )  # fmt: skip
    ValidationRun.objects.create(started_at=at + timedelta(minutes=5), passed=True, run_by_name="validator")
    PhaseWindow.objects.create(
        kind=PhaseWindow.Kind.PHASE3, started_at=at + timedelta(minutes=10), ends_at=at + timedelta(minutes=25),
        verdict=PhaseWindow.Verdict.PASSED, verdict_at=at + timedelta(minutes=26), summary={"runs": 3, "worst": {}},
    )  # fmt: skip


@pytest.fixture(autouse=True)
def runbook_prerequisites_met(db):
    """The rollout tests start where the runbook has Phases 2 and 3 behind it; tests of those prerequisites
    (test_prerequisites.py) remove what they test."""
    meet_runbook_prerequisites()


@pytest.fixture
def eager_celery(settings):
    """Runbook tasks run in-process, inside the request that asks for them."""
    before = celery_app.conf.task_always_eager
    settings.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def backup_dir(settings, tmp_path):
    """Backups of the test database go to the test's own directory."""
    settings.BACKUP_DIR = tmp_path / "backups"
    return settings.BACKUP_DIR


@pytest.fixture
def enable_flag(db):
    return FeatureFlag.objects.get(key=ENABLE_SWITCHING_MODE)


@pytest.fixture
def ui_flag(db):
    return FeatureFlag.objects.get(key=SHOW_SWITCHING_MODE_UI)


def grant_owner(user, *perms):
    """Give the user `perms` (default flip_flag) on both flags."""
    for flag in FeatureFlag.objects.all():
        for perm in perms or (FLIP_FLAG,):
            assign_perm(perm, user, flag)
    return user


@pytest.fixture
def owner(db):
    """A product owner who may flip both flags, advance, override gates and pull the kill switch."""
    return grant_owner(make_product(username="owner"), FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK)


@pytest.fixture
def fresh_run(db):
    now = timezone.now()
    return HealthRun.objects.create(started_at=now, finished_at=now, status=CheckStatus.OK)


def state() -> RolloutState:
    return RolloutState.objects.get(pk=RolloutState.SINGLETON_ID)


def backdate_soak(hours: float = 25) -> None:
    RolloutState.objects.filter(pk=1).update(soak_started_at=timezone.now() - timedelta(hours=hours))


def advance(user, **kwargs):
    """Advance with the version the user would have seen on the page."""
    from rollout import services

    return services.advance_stage(actor=user, expected_version=state().version, **kwargs)


def mode(bar):
    bar.refresh_from_db()
    return bar.operating_mode
