from datetime import timedelta

from django.utils import timezone

from mappings import selectors, services
from tests.factories import SaleFactory, ServerFactory


def test_coverage_counts_recent_sales_with_a_typed_name(bar, mapping):
    now = timezone.now()
    SaleFactory.create_batch(3, bar=bar, server_name="AÏCHA ")  # mapped, whatever the spelling
    SaleFactory(bar=bar, server_name="Bob")
    SaleFactory(bar=bar, server_name="Bob", created_at=now - timedelta(days=45))  # outside the window
    SaleFactory(bar=bar, server_name=None)  # full mode: no typed name
    SaleFactory(bar=bar, server_name="  ")  # nothing to map
    report = selectors.name_report(bar, now=now)
    assert (report.recent_sales, report.recent_mapped, report.coverage_pct) == (4, 3, 75.0)
    [bob] = report.unmapped
    assert (bob.key, bob.sales, bob.recent_sales) == ("bob", 2, 1)


def test_coverage_is_none_without_sales(bar):
    assert selectors.name_report(bar).coverage_pct is None


def test_coverage_ignores_other_bars(bar, mapping, other_bar):
    SaleFactory(bar=other_bar, server_name="Bob")
    SaleFactory(bar=bar, server_name="Aïcha")
    report = selectors.name_report(bar)
    assert report.coverage_pct == 100.0 and report.unmapped == []


def test_coverage_rises_when_an_unmapped_name_is_mapped(bar, mapping, other_server, manager):
    SaleFactory.create_batch(2, bar=bar, server_name="Aïcha")
    SaleFactory.create_batch(2, bar=bar, server_name="Moussa")
    assert selectors.name_report(bar).coverage_pct == 50.0
    services.create_mapping(bar=bar, server_name="moussa", user=other_server, actor=manager)
    assert selectors.name_report(bar).coverage_pct == 100.0


def test_unmapped_names_group_spellings_and_order_by_sales(bar):
    now = timezone.now()
    SaleFactory(bar=bar, server_name="Patron", created_at=now - timedelta(days=2))
    SaleFactory.create_batch(2, bar=bar, server_name="patron ", created_at=now - timedelta(days=1))
    SaleFactory.create_batch(2, bar=bar, server_name="Jo", created_at=now)
    report = selectors.name_report(bar)
    assert [u.key for u in report.unmapped] == ["patron", "jo"]
    patron = report.unmapped[0]
    assert patron.sales == 3 and patron.label == "patron" and patron.other_spellings == ["Patron"]
    assert patron.last_seen > now - timedelta(days=1, minutes=1)
    # equal counts: the most recently seen first
    assert report.unmapped[1].last_seen == max(u.last_seen for u in report.unmapped)


def test_overlong_unmapped_name_says_it_cannot_be_mapped(bar):
    SaleFactory(bar=bar, server_name="y" * 150)
    [name] = selectors.name_report(bar).unmapped
    assert "at most 100" in name.problem


def test_suggestions_forgive_accents_and_typos_but_not_ambiguity(bar, server, other_server):
    SaleFactory(bar=bar, server_name="Aicha")
    SaleFactory(bar=bar, server_name="Mousa")
    SaleFactory(bar=bar, server_name="Tantie")
    report = selectors.name_report(bar)
    selectors.suggest_members(report.unmapped, selectors.members_for(bar))
    suggested = {u.key: u.suggested_user_id for u in report.unmapped}
    assert suggested == {"aicha": str(server.pk), "mousa": str(other_server.pk), "tantie": ""}


def test_members_are_the_eligible_ones(bar, server, manager, other_bar_server):
    from adminpanel.models import MemberRole
    from tests.factories import BarMemberFactory

    BarMemberFactory(bar=bar, user=ServerFactory(username="owner1"), role=MemberRole.OWNER)
    BarMemberFactory(bar=bar, user=ServerFactory(username="gone"), role=MemberRole.SERVER, is_active=False)
    assert sorted(m.username for m in selectors.members_for(bar)) == ["aicha", "manager_a"]


def test_bar_picker_counts_mappings(bar, mapping, other_bar, support_user):
    page = selectors.bar_picker(support_user)
    assert {b.name: b.mapping_count for b in page.object_list} == {bar.name: 1, other_bar.name: 0}
