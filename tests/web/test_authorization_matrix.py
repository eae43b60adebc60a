"""Every route in ``app.url_map``, asked by an anonymous visitor, an agent and an admin.

New routes are covered without touching this file: a route that forgets its role check fails
here. The rule: ``/admin/...`` is for admins, ``/api/...`` needs a Bearer token, every other
page needs a login, and only the routes in ``PUBLIC`` need nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.routing import Rule

from intake.core.runtime import Runtime
from intake.domain import Role
from tests.conftest import add_person, login, make_app

# Liveness and readiness probes, the login form, static files, the Twilio webhook (which
# authenticates by signature, tested in tests/voicemail/test_twilio.py) and the customers' rating
# page (a signed, expiring link, tested in tests/analytics/test_ratings_and_audit.py).
PUBLIC = {
    "/healthz",
    "/readyz",
    "/login",
    "/static/<path:filename>",
    "/api/voicemail/twilio",
    "/rate/<token>",
}
# Scraped by Prometheus with an admin's API token (or from INTAKE_METRICS_ALLOW, empty here).
ADMIN_TOKEN_ONLY = {"/metrics"}
# Ids that match no row: no admin action in the matrix changes the people it runs as.
PLACEHOLDERS = {"int": "99999", "path": "style.css", "default": "category"}


def concrete(rule: Rule) -> str:
    def fill(match: re.Match[str]) -> str:
        converter = match.group(1) or "default"
        return PLACEHOLDERS.get(converter, PLACEHOLDERS["default"])

    return re.sub(r"<(?:(\w+):)?\w+>", fill, rule.rule)


def routes(app: Flask) -> Iterator[tuple[str, str, str]]:
    for rule in app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield rule.rule, method, concrete(rule)


@pytest.fixture
def app(sqlite_runtime: Runtime) -> Flask:
    return make_app(sqlite_runtime, WTF_CSRF_ENABLED=False)


def signed_in(app: Flask, runtime: Runtime, email: str, role: Role) -> tuple[FlaskClient, str]:
    token = add_person(runtime, email, role)
    client = app.test_client()
    login(client, email)
    return client, token


def test_every_route_refuses_whoever_it_is_not_for(app: Flask, sqlite_runtime: Runtime) -> None:
    agent, agent_token = signed_in(app, sqlite_runtime, "agent@example.com", Role.AGENT)
    admin, admin_token = signed_in(app, sqlite_runtime, "admin@example.com", Role.ADMIN)
    anonymous = app.test_client()
    checked = 0
    for rule, method, url in routes(app):
        if rule in PUBLIC or rule in ("/logout",):
            continue
        checked += 1
        is_api, is_admin = rule.startswith("/api/"), rule.startswith("/admin/")
        nobody = anonymous.open(url, method=method)
        if rule in ADMIN_TOKEN_ONLY:
            assert nobody.status_code == 401, (method, url)
            as_agent = agent.open(url, method=method, headers=bearer(agent_token))
            assert as_agent.status_code in (401, 403), (method, url, as_agent.status_code)
            as_admin = admin.open(url, method=method, headers=bearer(admin_token))
            assert as_admin.status_code == 200, (method, url, as_admin.status_code)
            continue
        if is_api:
            assert nobody.status_code == 401, (method, url)
            as_agent = agent.open(url, method=method, headers=bearer(agent_token))
            assert as_agent.status_code not in (401, 403), (method, url, as_agent.status_code)
            as_admin = admin.open(url, method=method, headers=bearer(admin_token))
            assert as_admin.status_code not in (401, 403), (method, url)
            continue
        assert nobody.status_code in (302, 401), (method, url, nobody.status_code)
        if nobody.status_code == 302:
            assert "/login" in nobody.headers["Location"], (method, url)
        as_agent = agent.open(url, method=method)
        if is_admin:
            assert as_agent.status_code == 403, (method, url, as_agent.status_code)
        else:
            assert as_agent.status_code not in (401, 403), (method, url, as_agent.status_code)
        as_admin = admin.open(url, method=method)
        assert as_admin.status_code not in (401, 403), (method, url, as_admin.status_code)
        assert as_admin.status_code < 500, (method, url, as_admin.status_code)
    assert checked > 50  # the matrix really ran over the app's routes


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
