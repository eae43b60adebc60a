"""Security headers on every response, templates the CSP does not break, Secure cookies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from intake.core.runtime import Runtime
from tests.conftest import add_person, make_app, make_runtime
from tests.web.conftest import AGENT, people_app

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def assert_secured(response: TestResponse) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {
        part.strip().split(" ", 1)[0]: part.strip() for part in csp.split(";") if part.strip()
    }
    assert directives.get("default-src") == "default-src 'none'", csp
    assert directives.get("script-src") == "script-src 'self'", csp
    assert directives.get("style-src") == "style-src 'self'", csp
    assert directives.get("frame-ancestors") == "frame-ancestors 'none'", csp
    assert directives.get("object-src") == "object-src 'none'", csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers.get("X-Frame-Options") == "DENY"
    assert response.headers.get("X-Content-Type-Options") == "nosniff"
    assert response.headers.get("Referrer-Policy") in {"same-origin", "no-referrer"}


def test_pages_carry_the_security_headers(agent: FlaskClient) -> None:
    page = agent.get("/")
    assert page.status_code == 200
    assert_secured(page)


def test_the_login_page_and_errors_carry_them(web_app: Flask) -> None:
    client = web_app.test_client()
    assert_secured(client.get("/login"))
    assert_secured(client.get("/no-such-page"))
    static = client.get("/static/style.css")
    assert_secured(static)
    static.close()  # a streamed file: close it (ResourceWarning is an error)


def test_api_answers_carry_them(web_app: Flask, runtime: Runtime) -> None:
    client = web_app.test_client()
    unauthorized = client.get("/api/tickets")
    assert unauthorized.status_code == 401
    assert_secured(unauthorized)
    token = add_person(runtime, "api@example.com")
    answer = client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert_secured(answer)
    assert_secured(client.get("/healthz"))


# What style-src 'self' and script-src 'self' forbid in markup.
INLINE = [
    re.compile(r"\sstyle\s*=", re.I),
    re.compile(r"<style", re.I),
    re.compile(r"\son[a-z]+\s*=", re.I),
    re.compile(r"<script(?![^>]*\ssrc=)[^>]*>", re.I),
    re.compile(r"javascript:", re.I),
]


@pytest.mark.parametrize(
    "template", sorted(TEMPLATES.rglob("*.html")), ids=lambda p: str(p.relative_to(TEMPLATES))
)
def test_no_template_uses_inline_script_or_style(template: Path) -> None:
    source = template.read_text(encoding="utf-8")
    for pattern in INLINE:
        assert not pattern.search(source), f"{template.name}: {pattern.pattern} is blocked by CSP"


def test_the_inline_checks_catch_what_the_csp_blocks() -> None:
    for blocked in (
        '<div style="height: 5%">',
        "<form onsubmit=\"return confirm('x')\">",
        "<script>alert(1)</script>",
    ):
        assert any(p.search(blocked) for p in INLINE), blocked
    assert not any(p.search('<script src="/static/page.js"></script>') for p in INLINE)


def cookie_headers(app: Flask) -> list[str]:
    client = app.test_client()
    response = client.post("/login", data={"email": AGENT, "password": f"{AGENT}-pw"})
    assert response.status_code == 302
    return response.headers.getlist("Set-Cookie")


def test_cookies_are_secure_when_the_base_url_is_https(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    runtime = make_runtime(
        tmp_path, sqlite_url, redis_url, INTAKE_BASE_URL="https://help.shop.example"
    )
    try:
        people_app(runtime)
        app = make_app(runtime, WTF_CSRF_ENABLED=False)
        cookies = cookie_headers(app)
        assert cookies and all("; Secure" in c for c in cookies), cookies
        assert all("HttpOnly" in c for c in cookies)
        assert app.config["REMEMBER_COOKIE_SECURE"] is True
    finally:
        runtime.close()


def test_cookies_are_not_secure_over_plain_http(web_app: Flask) -> None:
    # Secure cookies would never come back over http: logins would silently fail.
    cookies = cookie_headers(web_app)
    assert cookies and not any("Secure" in c for c in cookies), cookies


PAGES = [
    "/",
    "/analytics",
    "/admin/intake",
    "/admin/people",
    "/admin/categories",
    "/admin/rules",
    "/admin/sla",
    "/admin/customers",
    "/admin/mailboxes",
    "/admin/models/",
    "/admin/voicemail",
]


@pytest.mark.parametrize("path", PAGES)
def test_rendered_pages_hold_nothing_the_policy_blocks(admin: FlaskClient, path: str) -> None:
    response = admin.get(path)
    assert response.status_code == 200
    assert_secured(response)
    page = response.get_data(as_text=True)
    for pattern in INLINE:
        assert not pattern.search(page), f"{path}: {pattern.pattern}"
    assert '<script src="/static/page.js"></script>' in page
