"""Content-Security-Policy: every page carries it, it allows no inline code, and nothing inline is left to allow.

The policy (settings.SECURE_CSP) admits scripts and styles only from the panel's own static files. A template
with an inline <style>, a style= attribute, an on*= handler or an inline <script> would be refused by the
browser, so the templates are scanned, and the rendered pages too (markup also comes from Python and includes).
"""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from adminpanel.models import Bar
from demo.seeding import seed_demo
from tests.test_pages import ROUTES, _fill

ROOT = Path(settings.BASE_DIR)
TEMPLATE_DIRS = [ROOT / "templates", *sorted(ROOT.glob("*/templates"))]
TEMPLATE_FILES = sorted(
    path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html") if ".venv" not in path.parts
)

COMMENT = re.compile(r"{#.*?#}|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}", re.S)
INLINE = {
    "a <style> element": re.compile(r"<style\b", re.I),
    "a style= attribute": re.compile(r"<[^>]*\sstyle\s*=", re.I),
    "an on*= event handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.I),
    "an htmx hx-on handler (needs eval)": re.compile(r"<[^>]*\s(?:data-)?hx-on", re.I),
    "a javascript: URL": re.compile(r"javascript:", re.I),
    "an inline <script>": re.compile(r"<script\b(?![^>]*\ssrc=)[^>]*>", re.I),
}


def inline_code(markup: str) -> list[str]:
    markup = COMMENT.sub("", markup)
    return [what for what, pattern in INLINE.items() if pattern.search(markup)]


def test_the_scanner_finds_each_kind_of_inline_code():
    assert inline_code('<p style="color:red">x</p>') == ["a style= attribute"]
    assert inline_code("<style>p{}</style>") == ["a <style> element"]
    assert inline_code('<a href="#" onclick="go()">x</a>') == ["an on*= event handler"]
    assert inline_code("<script>alert(1)</script>") == ["an inline <script>"]
    assert inline_code('<button hx-on:click="x()">x</button>') == ["an htmx hx-on handler (needs eval)"]
    assert inline_code('<a href="javascript:go()">x</a>') == ["a javascript: URL"]
    assert inline_code('<script src="/static/x.js" defer></script><p class="a">{# <style> #}</p>') == []


def test_there_are_templates_to_scan():
    names = {path.name for path in TEMPLATE_FILES}
    assert {"base.html", "record.html", "_progress.html", "login.html"} <= names


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=[str(p.relative_to(ROOT)) for p in TEMPLATE_FILES])
def test_no_template_holds_inline_style_script_or_handlers(path):
    assert inline_code(path.read_text()) == []


def test_the_policy_allows_no_inline_code_and_no_eval():
    for directive in ("script-src", "style-src", "default-src"):
        values = settings.SECURE_CSP[directive]
        assert "'unsafe-inline'" not in values
        assert "'unsafe-eval'" not in values
    assert settings.SECURE_CSP["object-src"] == ["'none'"]
    assert "django.middleware.csp.ContentSecurityPolicyMiddleware" in settings.MIDDLEWARE


@pytest.mark.django_db
def test_a_page_carries_the_policy_header(client, superuser):
    client.force_login(superuser)
    response = client.get("/")
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.django_db
def test_the_login_page_carries_the_policy_and_htmx_keeps_its_styles_to_itself(client):
    response = client.get("/accounts/login/")
    assert "Content-Security-Policy" in response
    html = response.content.decode()
    # htmx would otherwise add an inline <style> for its indicators, which the policy refuses.
    assert '"includeIndicatorStyles": false' in html
    assert re.search(r'<script src="/static/django_htmx/htmx-2\.min\.js" defer', html)
    assert re.search(r'<script src="/static/js/panel\.js" defer></script>', html)


@pytest.mark.django_db
def test_no_rendered_page_holds_inline_code(client, django_user_model):
    seed_demo(bars=4, sales=100, seed=3)
    call_command("demo_logins", "--password", "demo-pass-42", stdout=open("/dev/null", "w"))  # noqa: SIM115
    client.force_login(django_user_model.objects.get(username="admin"))
    bar_id = str(Bar.objects.order_by("-is_internal", "name").first().pk)
    found, pages = [], 0
    for route, _ in ROUTES:
        response = client.get(_fill(route, bar_id))
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        pages += 1
        assert "Content-Security-Policy" in response, route
        if problems := inline_code(response.content.decode()):
            found.append((route, problems))
    assert pages >= 15
    assert found == []
