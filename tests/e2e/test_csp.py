"""The Content-Security-Policy in a real browser: pages work under it (every browser test fails on a refusal, see
conftest.py), and it does refuse what it should, so that guard can fail."""

import pytest

from tests.factories import make_support

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_browser_refuses_inline_styles_and_scripts_on_a_panel_page(login, page, csp_violations):
    login(make_support(username="support_csp"))
    page.evaluate(
        """() => {
            document.body.insertAdjacentHTML("beforeend", '<p id="styled" style="color: rgb(255, 0, 0)">x</p>');
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.appendChild(script);
        }"""
    )
    page.wait_for_function("() => document.getElementById('styled') !== null")
    assert page.evaluate("() => getComputedStyle(document.getElementById('styled')).color") != "rgb(255, 0, 0)"
    assert page.evaluate("() => window.inlineRan === true") is False
    assert any("inline style" in text for text in csp_violations)
    assert any("inline script" in text for text in csp_violations)
    csp_violations.clear()  # seen on purpose


def test_htmx_is_loaded_and_configured_without_inline_styles(login, page):
    login(make_support(username="support_htmx"))
    assert page.evaluate("() => typeof htmx") == "object"
    assert page.evaluate("() => htmx.config.includeIndicatorStyles") is False
    assert page.evaluate("() => htmx.config.allowEval") is False
    assert page.evaluate("() => document.querySelectorAll('style').length") == 0


def test_a_data_print_control_prints_through_the_static_script(login, page):
    login(make_support(username="support_print"))
    page.evaluate(
        """() => {
            window.printed = 0;
            window.print = () => { window.printed += 1; };
            document.body.insertAdjacentHTML("beforeend", '<button type="button" id="p" data-print>Print</button>');
        }"""
    )
    page.click("#p")
    assert page.evaluate("() => window.printed") == 1
