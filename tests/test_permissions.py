import pytest
from django.contrib.auth.models import Permission
from guardian.shortcuts import assign_perm, get_objects_for_user

from adminpanel.models import Bar
from adminpanel.permissions import MANAGE_BAR_MAPPINGS
from adminpanel.roles import managed_bars, roles_of
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_manage_bar_mappings_is_a_mappings_permission_on_bars():
    perm = Permission.objects.get(codename="manage_bar_mappings")
    assert perm.content_type.app_label == "mappings"
    assert perm.content_type.model_class()._meta.concrete_model is Bar


def test_object_permission_holds_on_its_bar_only(bar, other_bar):
    user = UserFactory()
    assign_perm(MANAGE_BAR_MAPPINGS, user, bar)
    assert user.has_perm(MANAGE_BAR_MAPPINGS, bar)
    assert not user.has_perm(MANAGE_BAR_MAPPINGS, other_bar)
    assert not user.has_perm(MANAGE_BAR_MAPPINGS)  # never a global grant
    assert list(get_objects_for_user(user, MANAGE_BAR_MAPPINGS, klass=Bar.objects.all())) == [bar]


def test_bar_permissions_are_stored_in_the_direct_foreign_key_table(bar):
    user = UserFactory()
    assign_perm(MANAGE_BAR_MAPPINGS, user, bar)
    assert bar.baruserobjectpermission_set.filter(user=user).count() == 1


def test_managed_bars_and_roles_follow_the_grants(bar, other_bar, support_user, product_user, superuser, manager):
    assert list(managed_bars(manager)) == [bar]
    assert roles_of(manager).manages_bars and not roles_of(manager).is_support
    assert roles_of(support_user).is_support and not roles_of(support_user).manages_bars
    assert roles_of(product_user).is_product and not roles_of(product_user).is_support
    assert roles_of(superuser).labels[0] == "superuser"
    assert roles_of(UserFactory()).labels == []
