import pytest

from adminpanel.models import MemberRole
from mappings import services
from tests.factories import BarMemberFactory, ServerFactory, make_manager


@pytest.fixture
def server(bar):
    """Aïcha, an active server of `bar`."""
    user = ServerFactory(username="aicha", display_name="Aïcha")
    BarMemberFactory(bar=bar, user=user, role=MemberRole.SERVER)
    return user


@pytest.fixture
def other_server(bar):
    user = ServerFactory(username="moussa", display_name="Moussa")
    BarMemberFactory(bar=bar, user=user, role=MemberRole.SERVER)
    return user


@pytest.fixture
def mapping(bar, server, manager):
    return services.create_mapping(bar=bar, server_name="Aïcha", user=server, actor=manager)


@pytest.fixture
def other_manager(other_bar):
    return make_manager(other_bar, username="manager_b")


@pytest.fixture
def other_bar_server(other_bar):
    user = ServerFactory(username="fatou", display_name="Fatou")
    BarMemberFactory(bar=other_bar, user=user, role=MemberRole.SERVER)
    return user


@pytest.fixture
def other_mapping(other_bar, other_bar_server, other_manager):
    return services.create_mapping(bar=other_bar, server_name="Fatou", user=other_bar_server, actor=other_manager)
