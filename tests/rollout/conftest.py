from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from adminpanel.permissions import FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from monitoring.models import CheckStatus, HealthRun
from rollout.models import ENABLE_SWITCHING_MODE, SHOW_SWITCHING_MODE_UI, FeatureFlag, RolloutState
from tests.factories import make_product


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
