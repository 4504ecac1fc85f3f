import pytest

from adminpanel.models import MemberRole
from tests.factories import (
    BarFactory,
    ConsignmentFactory,
    ReturnFactory,
    SaleFactory,
    ServerFactory,
    ServerNameMappingFactory,
    member,
)


@pytest.fixture(autouse=True)
def _no_vacuum(settings):
    settings.BACKFILL_VACUUM_AT_END = False


@pytest.fixture(autouse=True)
def _one_range_unless_asked(settings):
    """Tests that read a run's single cursor walk one key range; the parallel tests ask for more by name."""
    settings.BACKFILL_RANGES = 1


class Scenario:
    """One bar where every resolution path and every fallback reason occurs exactly once."""

    def __init__(self):
        self.bar = BarFactory(name="Maquis Scenario")
        bar = self.bar
        self.manager = member(bar, ServerFactory(username="sc_manager"), MemberRole.MANAGER)
        self.aicha = member(bar, ServerFactory(username="sc_aicha"))
        self.moussa = member(bar, ServerFactory(username="sc_moussa"))
        self.gone = member(bar, ServerFactory(username="sc_gone", is_active=False))
        self.left = member(bar, ServerFactory(username="sc_left"), is_active=False)
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
