import pytest

from tests.factories import make_manager


@pytest.fixture
def readers(support_user, product_user, superuser):
    return [support_user, product_user, superuser]


@pytest.fixture
def bar_manager_only(bar):
    return make_manager(bar, username="manager_only")
