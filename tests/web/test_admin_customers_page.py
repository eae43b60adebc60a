"""The /admin/customers page puts its forms in the body, and nothing but words in <title>."""

from __future__ import annotations

from html.parser import HTMLParser

from flask.testing import FlaskClient


class _Where(HTMLParser):
    """Records the title's text and, for each form, whether it opened inside <title> or <body>."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.title = ""
        self.forms: dict[str, tuple[str, ...]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "form":
            self.forms[dict(attrs).get("action") or ""] = tuple(self.open)
        if tag not in {"input", "meta", "link", "br", "img"}:  # void elements never close
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.open:
            del self.open[len(self.open) - 1 - self.open[::-1].index(tag) :]

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] == "title":
            self.title += data


def test_the_tiers_by_domain_form_is_in_the_body_not_the_title(admin: FlaskClient) -> None:
    page = admin.get("/admin/customers")
    assert page.status_code == 200
    where = _Where()
    where.feed(page.get_data(as_text=True))
    assert where.title.strip() == "Customers · Intake Gateway"
    tier_form = where.forms["/admin/customers/tier-domains"]
    assert "body" in tier_form and "title" not in tier_form and "head" not in tier_form
    # The section is there once, with its textarea, after the page's heading.
    assert page.get_data(as_text=True).count("<h2>Tiers by domain</h2>") == 1
