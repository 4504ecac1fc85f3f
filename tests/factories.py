"""factory-boy factories for the BarTender schema and panel users."""

import factory
from django.contrib.auth.models import Group
from django.utils import timezone
from guardian.shortcuts import assign_perm

from adminpanel.models import AuditLog, Bar, BarMember, Consignment, MemberRole, Return, Sale, User
from adminpanel.permissions import MANAGE_BAR_MAPPINGS
from adminpanel.roles import PRODUCT, SUPPORT
from mappings.models import ServerNameMapping

PASSWORD = "test-pass-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.Faker("first_name")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def save_password(self, create, extracted, **kwargs):
        if create:
            self.save()


class BarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Bar

    name = factory.Sequence(lambda n: f"Bar {n}")
    settings = factory.LazyFunction(dict)


class BarMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BarMember

    bar = factory.SubFactory(BarFactory)
    user = factory.SubFactory(UserFactory)
    role = MemberRole.SERVER


class SaleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sale

    bar = factory.SubFactory(BarFactory)
    amount = 1500
    created_at = factory.LazyFunction(timezone.now)


class ConsignmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Consignment

    bar = factory.SubFactory(BarFactory)
    amount = 2000


class ReturnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Return

    bar = factory.SubFactory(BarFactory)
    amount = 500


class AuditLogFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AuditLog

    level = AuditLog.Level.ERROR
    error_type = "server_id_resolution"
    error_message = "Unknown server name"


class ServerNameMappingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServerNameMapping

    bar = factory.SubFactory(BarFactory)
    server_name = factory.Sequence(lambda n: f"Server {n}")
    user = factory.SubFactory(UserFactory)


def make_manager(bar: Bar, **kwargs) -> User:
    """A bar manager: active `manager` member of the bar holding `mappings.manage_bar_mappings` on it."""
    user = UserFactory(**kwargs)
    BarMember.objects.create(bar=bar, user=user, role=MemberRole.MANAGER)
    assign_perm(MANAGE_BAR_MAPPINGS, user, bar)
    return user


def make_support(**kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=SUPPORT))
    return user


def make_product(**kwargs) -> User:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=PRODUCT))
    return user
