"""The runbook page is rendered by markdown-it-py (issue 23): tables as tables, stable heading anchors the check pages
link to, checklist boxes shown disabled, code kept, and raw HTML from the file escaped."""

from django.urls import reverse

from monitoring.health import check_texts, runbook_markdown


def test_a_gfm_table_renders_as_a_table():
    html = runbook_markdown.render("| Stage | Bars |\n|---|---:|\n| 4a | 12 |\n")
    assert "<table>" in html and "<th>Stage</th>" in html
    assert '<td style="text-align:right">12</td>' in html


def test_raw_html_in_the_source_is_escaped_and_javascript_links_dropped():
    html = runbook_markdown.render(
        '<script>alert(1)</script>\n\nHi <img src=x onerror="alert(2)">\n\n[x](javascript:alert(3))'
    )
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html
    assert "javascript:" not in html.replace("[x](javascript:alert(3))", "")


def test_task_lists_are_disabled_checkboxes_and_code_blocks_are_kept():
    html = runbook_markdown.render("- [ ] Backup\n- [x] Tests\n\n```bash\necho '<b>'\n```\n")
    assert html.count('type="checkbox"') == 2 and html.count('disabled="disabled"') == 2
    assert 'checked="checked"' in html
    assert "<pre><code class=\"language-bash\">echo '&lt;b&gt;'\n</code></pre>" in html


def test_headings_get_the_anchor_ids_the_checks_link_to():
    html = runbook_markdown.render("### 📊 Critical Alerts (Requires Immediate Action)\n")
    assert f'<h3 id="{check_texts.CRITICAL_ALERTS}">' in html


def test_the_served_runbook_has_every_section_a_check_page_links_to_and_the_file_s_checklists(client_for, support_user):
    page = client_for(support_user).get(reverse("monitoring:runbook"))
    body = page.content.decode()
    main = body.split("<main")[1].split("</main>")[0]
    linked = {text.section for text in check_texts.TEXTS.values()} | {check_texts.OPTION_A, check_texts.ROOT_CAUSE}
    for anchor in linked:
        assert f'id="{anchor}"' in main, anchor
    assert 'class="task-list-item-checkbox"' in main  # the file's "- [ ]" checklists
    assert "<script" not in main
    assert "Content-Security-Policy" in page.headers
