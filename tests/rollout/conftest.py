from datetime import timedelta

import pytest
from django.utils import timezone
from guardian.shortcuts import assign_perm

from adminpanel.models import AuditLog, Bar, Sale
from adminpanel.permissions import FLIP_FLAG, OVERRIDE_GATE, TRIGGER_ROLLBACK
from monitoring.models import CheckStatus, HealthRun
from rollout.models import (
    ENABLE_SWITCHING_MODE,
    SHOW_SWITCHING_MODE_UI,
    FeatureFlag,
    RolloutBarChange,
    RolloutState,
    RolloutStep,
)
from tests.factories import UserFactory, make_product


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


def backdate_soak(hours: float = 25, *, traffic: int | None = 250) -> None:
    """As if the current stage had run for `hours`: its soak started and its steps ran that long ago, and (unless
    `traffic` is None) both cohorts sold `traffic` sales in the window and as many just before it, every one with
    a server_id and no error: a healthy stage whose cohort comparison says "no evidence of harm"."""
    RolloutState.objects.filter(pk=1).update(soak_started_at=timezone.now() - timedelta(hours=hours))
    RolloutStep.objects.filter(rolled_back_at__isnull=True).update(created_at=timezone.now() - timedelta(hours=hours))
    if traffic:
        seed_traffic(switched=traffic, control=traffic, hours=hours)


def switched_bars() -> list:
    ids = RolloutBarChange.objects.filter(rolled_back_at__isnull=True).values_list("bar_id", flat=True)
    return list(Bar.objects.filter(pk__in=ids, settings__operatingMode="simplified"))


def control_bars() -> list:
    return list(Bar.objects.filter(settings__operatingMode__isnull=True))


def seed_traffic(
    *, switched: int, control: int, hours: float = 25, switched_coverage: float = 1.0, switched_errors: int = 0,
    switched_before: int | None = None, control_before: int | None = None, now=None,
) -> None:  # fmt: skip
    """Sales of both cohorts: `switched` / `control` in the comparison window (at `hours`/2 ago), as many (or the
    given `*_before`) in the same length of time just before it, with `switched_coverage` of the switched side's
    window sales carrying a server_id and `switched_errors` error logs on switched bars."""
    now = now or timezone.now()
    server = UserFactory(username="traffic_server")
    window = min(hours, 24)
    after_at, before_at = now - timedelta(hours=window / 2), now - timedelta(hours=window * 1.5)
    sales = []
    for bars, count, before, coverage in (
        (switched_bars(), switched, switched if switched_before is None else switched_before, switched_coverage),
        (control_bars(), control, control if control_before is None else control_before, 1.0),
    ):
        if not bars:
            continue
        with_server = round(count * coverage)
        for i in range(count):
            sales.append(Sale(bar=bars[i % len(bars)], server=server if i < with_server else None, amount=100,
                              created_at=after_at))  # fmt: skip
        for i in range(before):
            sales.append(Sale(bar=bars[i % len(bars)], server=server, amount=100, created_at=before_at))
    Sale.objects.bulk_create(sales, batch_size=2000)
    bars = switched_bars()
    AuditLog.objects.bulk_create(
        AuditLog(bar=bars[i % len(bars)], level="error", error_type="crash", error_message="boom", created_at=after_at)
        for i in range(switched_errors if bars else 0)
    )


def advance(user, **kwargs):
    """Advance with the version the user would have seen on the page."""
    from rollout import services

    return services.advance_stage(actor=user, expected_version=state().version, **kwargs)


def mode(bar):
    bar.refresh_from_db()
    return bar.operating_mode
