import pytest
from django.db import connection

from adminpanel.celery import app as celery_app
from adminpanel.models import BarMember, MemberRole, MigrationServerIdLog
from tests.factories import (
    BarFactory,
    ConsignmentFactory,
    ReturnFactory,
    SaleFactory,
    ServerNameMappingFactory,
    UserFactory,
)


@pytest.fixture
def eager_celery(settings):
    """Celery tasks run in-process (CELERY_TASK_ALWAYS_EAGER), for tests that go through the task chain.

    The app's conf is read (and remembered) before the override, so nothing eager leaks into later tests.
    """
    before = celery_app.conf.task_always_eager
    settings.CELERY_TASK_ALWAYS_EAGER = True
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


@pytest.fixture(autouse=True)
def _no_vacuum(settings):
    settings.BACKFILL_VACUUM_AT_END = False


def member(bar, user, role=MemberRole.SERVER, is_active=True):
    BarMember.objects.create(bar=bar, user=user, role=role, is_active=is_active)
    return user


class Scenario:
    """One bar where every resolution path and every fallback reason occurs exactly once."""

    def __init__(self):
        self.bar = BarFactory(name="Maquis Scenario")
        bar = self.bar
        self.manager = member(bar, UserFactory(username="sc_manager"), MemberRole.MANAGER)
        self.aicha = member(bar, UserFactory(username="sc_aicha"))
        self.moussa = member(bar, UserFactory(username="sc_moussa"))
        self.gone = member(bar, UserFactory(username="sc_gone", is_active=False))
        self.left = member(bar, UserFactory(username="sc_left"), is_active=False)
        ServerNameMappingFactory(bar=bar, server_name="Aïcha", user=self.aicha)
        ServerNameMappingFactory(bar=bar, server_name="Gone Person", user=self.gone)
        ServerNameMappingFactory(bar=bar, server_name="Left Person", user=self.left)
        self.mapped = SaleFactory(bar=bar, server_name="  AÏCHA ", created_by=self.manager)
        self.no_name = SaleFactory(bar=bar, server_name=None, created_by=self.moussa)
        self.unmapped = SaleFactory(bar=bar, server_name="Patron", created_by=self.manager)
        self.deleted = SaleFactory(bar=bar, server_name="gone person", created_by=self.manager)
        self.inactive = SaleFactory(bar=bar, server_name="LEFT  PERSON", created_by=self.manager)
        self.already = SaleFactory(bar=bar, server_name="Aïcha", server=self.moussa, created_by=self.manager)
        self.consignment = ConsignmentFactory(bar=bar, server_name="aïcha", created_by=self.manager)
        self.return_of_mapped = ReturnFactory(bar=bar, sale=self.mapped, created_by=self.manager)
        self.return_without_sale = ReturnFactory(bar=bar, sale=None, created_by=self.manager)
        self.return_of_unresolved = ReturnFactory(bar=bar, sale=self.unmapped, created_by=self.manager)


@pytest.fixture
def scenario(db):
    return Scenario()


def snapshot():
    """The backfill's whole visible outcome: every server_id and every log row (without ids and times)."""
    with connection.cursor() as cursor:
        state = {}
        for table in ("sales", "consignments", "returns"):
            cursor.execute(f"SELECT id, server_id FROM {table} ORDER BY id")
            state[table] = cursor.fetchall()
    logs = sorted(
        MigrationServerIdLog.objects.values_list(
            "sale_id",
            "consignment_id",
            "return_id",
            "bar_id",
            "server_name",
            "resolved_server_id",
            "fallback_used",
            "fallback_reason",
        ),
        key=repr,
    )
    return state, logs
