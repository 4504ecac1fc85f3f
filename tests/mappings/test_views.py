"""The mappings pages as a browser (with and without htmx) sees them."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from adminpanel.models import PanelEvent, Sale
from mappings import services
from mappings.models import ServerNameMapping
from mappings.models.mapping import DUPLICATE_NAME_MESSAGE
from tests.factories import SaleFactory

HTMX = {"HTTP_HX_REQUEST": "true"}
XSS = '<script>alert("x")</script>'


def url(name, bar, *args):
    return reverse(f"mappings:{name}", args=[bar.pk, *args])


def test_bar_picker_lists_only_the_managers_bars(manager, bar, other_bar, client_for):
    html = client_for(manager).get(reverse("mappings:bar_list")).content.decode()
    assert bar.name in html and other_bar.name not in html


def test_bar_picker_lists_every_bar_for_support_and_searches(support_user, bar, other_bar, client_for):
    client = client_for(support_user)
    html = client.get(reverse("mappings:bar_list")).content.decode()
    assert bar.name in html and other_bar.name in html
    html = client.get(reverse("mappings:bar_list"), {"q": "fatou"}).content.decode()
    assert other_bar.name in html and bar.name not in html


def test_nav_link_shows_for_managers_support_and_product_only(
    manager, support_user, product_user, plain_user, client_for
):
    link = f'href="{reverse("mappings:bar_list")}"'
    for user in (manager, support_user, product_user):
        assert link in client_for(user).get(reverse("home")).content.decode()
    assert link not in client_for(plain_user).get(reverse("home")).content.decode()


def test_bar_page_shows_mappings_coverage_unmapped_and_history(bar, mapping, manager, client_for):
    SaleFactory.create_batch(3, bar=bar, server_name="Aïcha")
    SaleFactory(bar=bar, server_name="Bob")
    html = client_for(manager).get(url("bar_detail", bar)).content.decode()
    assert 'id="coverage-figure">75.0 %<' in html
    assert 'id="mapping-' in html and "Aïcha" in html
    assert "Bob" in html  # unmapped
    assert "manager_a" in html and "added" in html  # history


def test_add_inline_with_htmx_returns_a_fresh_form_and_signals_the_change(bar, server, manager, client_for):
    response = client_for(manager).post(url("mapping_create", bar), {"server_name": "Aïcha", "user": server.pk}, **HTMX)
    assert response.status_code == 200
    assert response["HX-Trigger"] == '{"mapping-added": {}, "mappings-changed": {}}'
    html = response.content.decode()
    assert 'id="mapping-add"' in html and "Mapped “Aïcha” to Aïcha." in html
    assert ServerNameMapping.objects.get(bar=bar).user == server


def test_duplicate_name_error_appears_next_to_the_field_and_nothing_changes(
    bar, mapping, other_server, manager, client_for
):
    response = client_for(manager).post(
        url("mapping_create", bar), {"server_name": "  AÏCHA ", "user": other_server.pk}, **HTMX
    )
    html = response.content.decode()
    assert "HX-Trigger" not in response
    assert 'id="add-server-name-error"' in html and DUPLICATE_NAME_MESSAGE in html
    assert 'value="  AÏCHA "' in html  # what was typed stays in the field
    assert ServerNameMapping.objects.count() == 1


def test_add_without_javascript_redirects_back_to_the_bar(bar, server, manager, client_for):
    response = client_for(manager).post(url("mapping_create", bar), {"server_name": "Aïcha", "user": server.pk})
    assert response.status_code == 302 and response["Location"] == url("bar_detail", bar)
    assert ServerNameMapping.objects.filter(bar=bar).exists()


def test_add_without_javascript_shows_errors_on_the_full_form(bar, manager, client_for):
    response = client_for(manager).post(url("mapping_create", bar), {"server_name": "x" * 101, "user": ""})
    html = response.content.decode()
    assert response.status_code == 200
    assert "at most 100 characters" in html and "Choose the member this name means." in html
    assert not ServerNameMapping.objects.exists()


def test_tampered_user_id_is_refused_with_a_field_error(bar, other_bar_server, manager, client_for):
    client = client_for(manager)
    for value in (str(other_bar_server.pk), "not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        html = client.post(url("mapping_create", bar), {"server_name": "Fatou", "user": value}, **HTMX).content.decode()
        assert 'id="add-user-error"' in html
    assert not ServerNameMapping.objects.exists()


def test_prefilled_form_page_for_a_name(bar, server, manager, client_for):
    html = client_for(manager).get(url("mapping_create", bar), {"server_name": "Bob"}).content.decode()
    assert 'value="Bob"' in html and "errorlist" not in html


def test_inline_edit_round_trip(bar, mapping, other_server, manager, client_for):
    client = client_for(manager)
    html = client.get(url("mapping_edit", bar, mapping.pk), **HTMX).content.decode()
    assert 'class="editing"' in html and 'value="Aïcha"' in html
    response = client.post(
        url("mapping_edit", bar, mapping.pk), {"server_name": "Aïcha", "user": other_server.pk}, **HTMX
    )
    assert response["HX-Trigger"]
    assert "moussa" in response.content.decode() and 'class="editing"' not in response.content.decode()
    mapping.refresh_from_db()
    assert mapping.user == other_server
    cancel = client.get(url("mapping_row", bar, mapping.pk), **HTMX).content.decode()
    assert f'id="mapping-{mapping.pk}"' in cancel


def test_inline_edit_error_keeps_the_edit_row(bar, mapping, other_server, manager, client_for):
    services.create_mapping(bar=bar, server_name="Moussa", user=other_server, actor=manager)
    response = client_for(manager).post(
        url("mapping_edit", bar, mapping.pk), {"server_name": "moussa", "user": other_server.pk}, **HTMX
    )
    assert 'class="editing"' in response.content.decode() and DUPLICATE_NAME_MESSAGE in response.content.decode()
    mapping.refresh_from_db()
    assert mapping.server_name == "Aïcha"


def test_edit_without_javascript(bar, mapping, other_server, manager, client_for):
    client = client_for(manager)
    assert 'value="Aïcha"' in client.get(url("mapping_edit", bar, mapping.pk)).content.decode()
    response = client.post(url("mapping_edit", bar, mapping.pk), {"server_name": "Aicha", "user": other_server.pk})
    assert response.status_code == 302
    mapping.refresh_from_db()
    assert (mapping.server_name, mapping.user) == ("Aicha", other_server)


def test_delete_with_htmx_removes_the_row(bar, mapping, manager, client_for):
    response = client_for(manager).post(url("mapping_delete", bar, mapping.pk), **HTMX)
    assert response.status_code == 200 and response.content == b"" and response["HX-Trigger"]
    assert not ServerNameMapping.objects.exists()


def test_delete_without_javascript_redirects(bar, mapping, manager, client_for):
    response = client_for(manager).post(url("mapping_delete", bar, mapping.pk))
    assert response.status_code == 302
    assert not ServerNameMapping.objects.exists()


def test_delete_needs_post(bar, mapping, manager, client_for):
    assert client_for(manager).get(url("mapping_delete", bar, mapping.pk)).status_code == 405
    assert ServerNameMapping.objects.exists()


def test_open_redirect_is_refused(bar, server, manager, client_for):
    response = client_for(manager).post(
        url("mapping_create", bar), {"server_name": "Aïcha", "user": server.pk, "next": "https://evil.example/"}
    )
    assert response["Location"] == url("bar_detail", bar)


def test_one_click_mapping_of_an_unmapped_name_raises_coverage(bar, server, manager, client_for):
    SaleFactory.create_batch(3, bar=bar, server_name="Aicha")
    SaleFactory(bar=bar, server_name="aicha ")
    client = client_for(manager)
    html = client.get(url("bar_detail", bar)).content.decode()
    assert 'id="coverage-figure">0.0 %<' in html
    # the unmapped row is pre-filled: its name, and Aïcha pre-selected as the likely member
    assert 'name="server_name" value="Aicha"' in html
    assert f'<option value="{server.pk}" selected>' in html
    response = client.post(
        url("mapping_create", bar), {"server_name": "Aicha", "user": server.pk, "source": "unmapped"}, **HTMX
    )
    assert "Mapped to Aïcha" in response.content.decode() and response["HX-Trigger"]
    coverage = client.get(url("bar_detail", bar), {"section": "coverage"}, **HTMX).content.decode()
    assert 'id="coverage-figure">100.0 %<' in coverage
    unmapped = client.get(url("bar_detail", bar), {"section": "unmapped"}, **HTMX).content.decode()
    assert "Every name typed on this bar" in unmapped


def test_unmapped_page_lists_names_by_sales_with_last_seen(bar, mapping, manager, client_for):
    now = timezone.now()
    SaleFactory.create_batch(2, bar=bar, server_name="Bob", created_at=now - timedelta(days=3))
    SaleFactory.create_batch(5, bar=bar, server_name="Patron", created_at=now - timedelta(days=1))
    SaleFactory(bar=bar, server_name="PATRON ", created_at=now)
    SaleFactory(bar=bar, server_name="Aïcha")
    SaleFactory(bar=bar, server_name="   ")
    SaleFactory(bar=bar, server_name=None)
    html = client_for(manager).get(url("unmapped", bar)).content.decode()
    assert html.index("Patron") < html.index("Bob")
    assert "also typed: PATRON" in html
    assert ">6<" in html and ">2<" in html
    assert "2 unmapped names." in html


def test_names_typed_as_html_are_rendered_escaped_everywhere(bar, server, manager, client_for):
    SaleFactory(bar=bar, server_name=XSS + " 2")
    services.create_mapping(bar=bar, server_name=XSS, user=server, actor=manager)
    client = client_for(manager)
    pages = [
        client.get(url("bar_detail", bar)),
        client.get(url("unmapped", bar)),
        client.get(url("history", bar)),
        client.get(url("tester", bar), {"name": XSS}),
        client.get(url("tester", bar), {"name": XSS + " 2"}, **HTMX),
    ]
    for response in pages:
        html = response.content.decode()
        assert XSS not in html and XSS + " 2" not in html
        assert "&lt;script&gt;" in html


def test_tester_shows_the_user_or_the_exact_api_error(bar, mapping, manager, client_for):
    client = client_for(manager)
    ok = client.get(url("tester", bar), {"name": " AÏCHA "}, **HTMX).content.decode()
    assert "Resolves to <strong>Aïcha</strong>" in ok and "HTTP 200" in ok and "aïcha" in ok
    refused = client.get(url("tester", bar), {"name": "Bob"}, **HTMX).content.decode()
    assert "HTTP 422" in refused and "unknown_server_name" in refused
    empty = client.get(url("tester", bar), {"name": ""}, **HTMX).content.decode()
    assert "invalid_server_name" in empty


def test_tester_writes_no_audit_log(bar, mapping, manager, client_for):
    from adminpanel.models import AuditLog

    client_for(manager).get(url("tester", bar), {"name": "Bob"})
    assert not AuditLog.objects.exists()


def test_history_page_pages_back_by_key(bar, server, manager, client_for, settings):
    settings.MAPPINGS_PAGE_SIZE = 2
    for i in range(3):
        services.create_mapping(bar=bar, server_name=f"S{i}", user=server, actor=manager)
    client = client_for(manager)
    first = client.get(url("history", bar)).content.decode()
    assert "“S2”" in first and "“S1”" in first and "“S0”" not in first
    older = PanelEvent.objects.filter(bar=bar).order_by("pk")[1].pk
    assert f"?after={older}" in first
    second = client.get(url("history", bar), {"after": older}).content.decode()
    assert "“S0”" in second and "“S1”" not in second
    assert f"?before={PanelEvent.objects.filter(bar=bar).order_by('pk')[0].pk}" in second  # back to newer
    for junk in ("junk", "²", "\x00", "9" * 40):  # not one of our cursors: the newest page
        for name in ("before", "after"):
            page = client.get(url("history", bar), {name: junk})
            assert page.status_code == 200 and "“S2”" in page.content.decode()


def test_export_is_a_csv_download(bar, mapping, manager, client_for):
    response = client_for(manager).get(url("export", bar))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="mappings-maquis-baobab-' in response["Content-Disposition"]
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body == "\ufeffserver_name,username\r\nAïcha,aicha\r\n"


def test_mapping_table_searches_and_pages(bar, server, manager, client_for, settings):
    settings.MAPPINGS_PAGE_SIZE = 2
    for name in ("Alpha", "Beta", "Gamma"):
        services.create_mapping(bar=bar, server_name=name, user=server, actor=manager)
    client = client_for(manager)
    table = client.get(url("bar_detail", bar), {"section": "table", "page": 2}, **HTMX).content.decode()
    assert "Gamma" in table and "Alpha" not in table
    found = client.get(url("bar_detail", bar), {"section": "table", "q": " BET "}, **HTMX).content.decode()
    assert "Beta" in found and "Alpha" not in found


# --- query counts: constant whatever the number of mappings --------------------------------------------


def add_mappings(bar, user, count):
    ServerNameMapping.objects.bulk_create(
        ServerNameMapping(bar=bar, server_name=f"Server {i}", normalized_name=f"server {i}", user=user)
        for i in range(count)
    )
    Sale.objects.bulk_create(
        Sale(bar=bar, server_name=f"Server {i}" if i % 3 else f"Typo {i % 50}", amount=1)
        for i in range(min(count, 2000))
    )


MAX_QUERIES = 16


@pytest.mark.parametrize("count", [10, 10_000])
@pytest.mark.parametrize("page", ["bar_detail", "unmapped"])
def test_page_issues_a_constant_number_of_queries(
    page, count, bar, server, manager, client_for, django_assert_max_num_queries
):
    add_mappings(bar, server, count)
    client = client_for(manager)
    with django_assert_max_num_queries(MAX_QUERIES):
        response = client.get(url(page, bar))
    assert response.status_code == 200


@pytest.mark.parametrize("count", [10, 10_000])
def test_bar_picker_issues_a_constant_number_of_queries(count, support_user, client_for, django_assert_max_num_queries):
    from adminpanel.models import Bar

    Bar.objects.bulk_create(Bar(name=f"Bar {i:05}") for i in range(count))
    client = client_for(support_user)
    with django_assert_max_num_queries(MAX_QUERIES):
        assert client.get(reverse("mappings:bar_list")).status_code == 200
