from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.db.models import ApiToken, User
from intake.core.runtime import Runtime
from intake.domain import Role
from tests.conftest import add_person, login, make_app
from tests.web.conftest import ADMIN, AGENT

ADMIN_PAGES = [
    "/admin/people",
    "/admin/categories",
    "/admin/rules",
    "/admin/sla",
    "/admin/customers",
]
ADMIN_POSTS = [
    ("/admin/people", {"email": "x@example.com", "role": "admin", "password": "longenough"}),
    ("/admin/categories", {"key": "sneaky", "label": "Sneaky"}),
    ("/admin/sla", {"urgent": "1", "high": "1", "medium": "1", "low": "1"}),
    ("/admin/rules", {"mode": "json", "definition": "{}"}),
]


def user(runtime: Runtime, email: str) -> User:
    with runtime.db.session() as session:
        row = session.scalar(select(User).where(User.email == email))
        assert row is not None
        session.expunge(row)
        return row


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_agents_get_403_on_admin_pages(agent: FlaskClient, path: str) -> None:
    assert agent.get(path).status_code == 403


@pytest.mark.parametrize(("path", "form"), ADMIN_POSTS)
def test_agents_get_403_when_posting_admin_forms(
    agent: FlaskClient, path: str, form: dict[str, str]
) -> None:
    assert agent.post(path, data=form).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_the_login_page(web_app: Flask, path: str) -> None:
    response = web_app.test_client().get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admins_see_every_admin_page(admin: FlaskClient, path: str) -> None:
    response = admin.get(path)
    assert response.status_code == 200
    assert b'name="csrf_token"' in response.data


def test_admin_posts_without_a_csrf_token_are_refused(runtime: Runtime) -> None:
    add_person(runtime, ADMIN, Role.ADMIN)
    client = make_app(runtime).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    client.post(
        "/login",
        data={"email": ADMIN, "password": f"{ADMIN}-pw", "csrf_token": token.group(1)},
    )
    assert client.get("/admin/people").status_code == 200
    response = client.post("/admin/categories", data={"key": "nocsrf", "label": "No"})
    assert response.status_code == 400


def test_an_admin_adds_a_person_who_can_then_log_in(web_app: Flask, admin: FlaskClient) -> None:
    response = admin.post(
        "/admin/people",
        data={"email": "New@Example.com", "name": "Nia", "role": "agent", "password": "s3cret-pw"},
        follow_redirects=True,
    )
    assert "Added new@example.com as agent." in response.get_data(as_text=True)
    client = web_app.test_client()
    assert (
        client.post(
            "/login", data={"email": "new@example.com", "password": "s3cret-pw"}
        ).status_code
        == 302
    )


def test_adding_a_person_with_a_short_password_explains_why(admin: FlaskClient) -> None:
    response = admin.post(
        "/admin/people",
        data={"email": "short@example.com", "role": "agent", "password": "abc"},
        follow_redirects=True,
    )
    assert "password must have at least 8 characters" in response.get_data(as_text=True)


def test_adding_an_existing_email_does_not_overwrite_that_person(
    runtime: Runtime, admin: FlaskClient
) -> None:
    response = admin.post(
        "/admin/people",
        data={"email": AGENT, "role": "admin", "password": "takeover-pw"},
        follow_redirects=True,
    )
    assert "already exists" in response.get_data(as_text=True)
    assert user(runtime, AGENT).role == "agent"


def test_a_role_change_takes_effect_on_the_next_request(
    runtime: Runtime, admin: FlaskClient, agent: FlaskClient
) -> None:
    agent_id = user(runtime, AGENT).id
    admin.post(f"/admin/people/{agent_id}/role", data={"role": "admin"})
    assert agent.get("/admin/people").status_code == 200
    admin.post(f"/admin/people/{agent_id}/role", data={"role": "agent"})
    assert agent.get("/admin/people").status_code == 403


def test_the_last_admin_cannot_demote_or_deactivate_themselves(
    runtime: Runtime, admin: FlaskClient
) -> None:
    admin_id = user(runtime, ADMIN).id
    response = admin.post(
        f"/admin/people/{admin_id}/role", data={"role": "agent"}, follow_redirects=True
    )
    assert "is the last admin" in response.get_data(as_text=True)
    response = admin.post(
        f"/admin/people/{admin_id}/active", data={"active": "0"}, follow_redirects=True
    )
    assert "is the last admin" in response.get_data(as_text=True)
    row = user(runtime, ADMIN)
    assert row.role == "admin" and row.active


def test_an_admin_can_step_down_once_there_is_another_admin(
    runtime: Runtime, admin: FlaskClient
) -> None:
    add_person(runtime, "second@example.com", Role.ADMIN)
    admin_id = user(runtime, ADMIN).id
    admin.post(f"/admin/people/{admin_id}/role", data={"role": "agent"})
    assert user(runtime, ADMIN).role == "agent"
    assert admin.get("/admin/people").status_code == 403


def test_a_deactivated_person_is_logged_out_and_cannot_log_in_again(
    runtime: Runtime, web_app: Flask, admin: FlaskClient, agent: FlaskClient
) -> None:
    agent_id = user(runtime, AGENT).id
    admin.post(f"/admin/people/{agent_id}/active", data={"active": "0"})
    assert agent.get("/").status_code == 302
    fresh = web_app.test_client()
    assert fresh.post("/login", data={"email": AGENT, "password": f"{AGENT}-pw"}).status_code == 200
    admin.post(f"/admin/people/{agent_id}/active", data={"active": "1"})
    login(fresh, AGENT)


def test_an_admin_resets_a_password(runtime: Runtime, web_app: Flask, admin: FlaskClient) -> None:
    agent_id = user(runtime, AGENT).id
    admin.post(f"/admin/people/{agent_id}/password", data={"password": "brand-new-pw"})
    client = web_app.test_client()
    assert (
        client.post("/login", data={"email": AGENT, "password": f"{AGENT}-pw"}).status_code == 200
    )
    assert (
        client.post("/login", data={"email": AGENT, "password": "brand-new-pw"}).status_code == 302
    )


def test_api_tokens_are_listed_shown_once_and_revocable(
    runtime: Runtime, admin: FlaskClient
) -> None:
    agent_id = user(runtime, AGENT).id
    page = admin.post(f"/admin/people/{agent_id}/tokens", data={"name": "sync"})
    token = re.search(r"<code>(itk_[^<]+)</code>", page.get_data(as_text=True))
    assert token is not None
    headers = {"Authorization": f"Bearer {token.group(1)}"}
    assert admin.get("/api/tickets", headers=headers).status_code == 200
    listing = admin.get(f"/admin/people/{agent_id}").get_data(as_text=True)
    assert "sync" in listing and token.group(1) not in listing
    with runtime.db.session() as session:
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "sync"))
    admin.post(f"/admin/people/{agent_id}/tokens/{token_id}/revoke")
    assert admin.get("/api/tickets", headers=headers).status_code == 401


def test_revoking_another_persons_token_through_the_wrong_url_is_404(
    runtime: Runtime, admin: FlaskClient
) -> None:
    admin_id = user(runtime, ADMIN).id
    with runtime.db.session() as session:
        agent_token = session.scalar(select(ApiToken.id).join(User).where(User.email == AGENT))
    assert admin.post(f"/admin/people/{admin_id}/tokens/{agent_token}/revoke").status_code == 404
