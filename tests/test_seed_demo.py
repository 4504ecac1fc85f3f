import hashlib
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count

from adminpanel.models import (
    AuditLog,
    AuthUser,
    Bar,
    BarMember,
    BarUserObjectPermission,
    Consignment,
    Return,
    Sale,
    User,
)
from demo.seeding import seed_demo
from mappings.models import ServerNameMapping
from mappings.names import normalize_server_name

pytestmark = pytest.mark.django_db


def _counts():
    return {
        model.__name__: model.objects.count()
        for model in (Bar, AuthUser, BarMember, ServerNameMapping, Sale, Consignment, Return, AuditLog)
    }


def test_seed_creates_bars_members_sales_and_logs_in_the_requested_amounts():
    report = seed_demo(bars=40, sales=4000, seed=3)
    assert (report.bars_created, report.sales_created) == (40, 4000)
    assert Bar.objects.count() == 40 and Sale.objects.count() == 4000
    assert Consignment.objects.count() == 200
    assert Return.objects.count() == report.returns_created > 0
    assert AuditLog.objects.filter(level="error").exists()
    roles = dict(BarMember.objects.values_list("role").annotate(n=Count("id")))
    assert roles["owner"] == roles["manager"] == 40
    assert roles["server"] >= 80


def test_seed_is_deterministic_and_idempotent_per_seed():
    seed_demo(bars=20, sales=1000, seed=5)
    first = _counts()
    ids = set(Sale.objects.values_list("server_name", "amount", "created_at__date"))
    again = seed_demo(bars=20, sales=1000, seed=5)
    assert again.bars_created == 0 and again.sales_created == 0
    assert _counts() == first
    assert set(Sale.objects.values_list("server_name", "amount", "created_at__date")) == ids
    expected_bar = uuid.UUID(hashlib.md5(b"bartender-demo:5:bar:0").hexdigest())  # noqa: S324
    assert Bar.objects.filter(pk=expected_bar, name="Test Bar 1", is_internal=True).exists()


def test_another_seed_adds_its_own_bars_beside_the_first():
    seed_demo(bars=10, sales=100, seed=1)
    seed_demo(bars=10, sales=100, seed=2)
    assert Bar.objects.count() == 20 and Sale.objects.count() == 200


def test_seeded_names_include_exact_case_accent_space_typo_unknown_and_missing_variants():
    seed_demo(bars=30, sales=6000, seed=1)
    mapped = set(ServerNameMapping.objects.values_list("normalized_name", flat=True))
    names = list(Sale.objects.values_list("server_name", flat=True))
    assert any(name is None for name in names)
    present = [n for n in names if n]
    assert any(n != normalize_server_name(n) and normalize_server_name(n) in mapped for n in present)  # case/spaces
    assert any(n.startswith("  ") for n in present)
    assert any(normalize_server_name(n) not in mapped for n in present)  # typos, accents, unknown
    assert any(n in {"Patron", "Bob", "Tantie"} for n in present)


def test_seed_spreads_sales_over_the_window_and_leaves_old_ones_for_the_backfill():
    seed_demo(bars=10, sales=2000, seed=1, days=30)
    from django.utils import timezone

    oldest = Sale.objects.order_by("created_at").first().created_at
    assert (timezone.now() - oldest).days <= 30
    assert Sale.objects.filter(server__isnull=True).exists()
    assert Sale.objects.filter(server__isnull=False).exists()
    assert Bar.objects.filter(settings__operatingMode="full").exists()
    assert Bar.objects.filter(last_sale_at__isnull=False).count() == 10


def test_the_seed_writes_only_bartender_rows_never_panel_accounts_or_permissions():
    """Seeded owners, managers and servers are BarTender users (auth.users); panel logins come from demo_logins."""
    accounts = User.objects.count()
    seed_demo(bars=3, sales=30, seed=1)
    assert AuthUser.objects.count() == BarMember.objects.count() > 0
    assert User.objects.count() == accounts
    assert not BarUserObjectPermission.objects.exists()
    assert BarMember.objects.filter(role="manager").count() == 3


def test_the_command_reports_and_refuses_bad_sizes():
    with pytest.raises(CommandError, match="bars must be"):
        call_command("seed_demo", "--bars", "0")
