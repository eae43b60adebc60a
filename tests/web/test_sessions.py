"""Login sessions end on logout, on a password change and on a deactivation, copies included.

Flask keeps the session in the cookie itself, so "the session ended" is proven by replaying a
copy of the cookie taken before the event in a fresh client: it must no longer log anyone in.
"""

from __future__ import annotations

import argparse
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.cli.accounts import run_user_add
from intake.core.db.models import User
from intake.core.runtime import Runtime
from intake.core.users import add_user
from intake.domain import Role
from tests.conftest import login
from tests.web.conftest import ADMIN, AGENT


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app: Flask, cookie: str) -> FlaskClient:
    """A fresh client (another browser, or a thief) holding a copy of ``cookie``."""
    client = app.test_client()
    client.set_cookie("session", cookie)
    return client


def logged_in(client: FlaskClient) -> bool:
    response = client.get("/")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
        return False
    assert response.status_code == 200, response.status_code
    return True


def user_id(runtime: Runtime, email: str) -> int:
    with runtime.db.session() as session:
        found = session.scalar(select(User.id).where(User.email == email))
        assert found is not None
        return found


def test_a_copied_session_cookie_works_until_logout_and_never_after(
    web_app: Flask, agent: FlaskClient
) -> None:
    copy = session_cookie(agent)
    assert logged_in(replay(web_app, copy))  # the copy is a real session: the test can fail

    assert agent.post("/logout").status_code == 302

    assert not logged_in(agent)
    assert not logged_in(replay(web_app, copy))


def test_logout_ends_the_users_other_sessions_too(web_app: Flask, agent: FlaskClient) -> None:
    laptop = web_app.test_client()
    login(laptop, AGENT)
    agent.post("/logout")
    assert not logged_in(laptop)


def test_a_password_reset_by_an_admin_ends_the_users_sessions(
    web_app: Flask, runtime: Runtime, admin: FlaskClient, agent: FlaskClient
) -> None:
    copy = session_cookie(agent)
    agent_id = user_id(runtime, AGENT)
    response = admin.post(f"/admin/people/{agent_id}/password", data={"password": "new-secret-1"})
    assert response.status_code == 302

    assert not logged_in(agent)
    assert not logged_in(replay(web_app, copy))
    assert logged_in(admin)  # other people's sessions are untouched
    # The new password works.
    fresh = web_app.test_client()
    response = fresh.post("/login", data={"email": AGENT, "password": "new-secret-1"})
    assert response.status_code == 302
    assert logged_in(fresh)


def test_an_admin_who_changes_their_own_password_stays_logged_in_here_only(
    web_app: Flask, runtime: Runtime, admin: FlaskClient
) -> None:
    other_browser = web_app.test_client()
    login(other_browser, ADMIN)
    admin_id = user_id(runtime, ADMIN)
    admin.post(f"/admin/people/{admin_id}/password", data={"password": "new-secret-2"})
    assert logged_in(admin)
    assert not logged_in(other_browser)


def test_intake_user_add_resetting_a_password_ends_the_users_sessions(
    web_app: Flask, runtime: Runtime, agent: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = session_cookie(agent)
    monkeypatch.setattr("sys.stdin", io.StringIO("reset-by-cli-1\n"))
    args = argparse.Namespace(email=AGENT, role="agent", name="")
    assert run_user_add(args, runtime.settings) == 0
    assert not logged_in(agent)
    assert not logged_in(replay(web_app, copy))


def test_add_user_on_an_existing_account_raises_its_session_version(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        before = add_user(session, "v@example.com", Role.AGENT, "first-password").session_version
        after = add_user(session, "v@example.com", Role.AGENT, "second-password").session_version
    assert after == before + 1


def test_deactivation_ends_sessions_and_reactivation_does_not_revive_them(
    web_app: Flask, runtime: Runtime, admin: FlaskClient, agent: FlaskClient
) -> None:
    copy = session_cookie(agent)
    agent_id = user_id(runtime, AGENT)
    admin.post(f"/admin/people/{agent_id}/active", data={"active": "0"})
    assert not logged_in(agent)
    admin.post(f"/admin/people/{agent_id}/active", data={"active": "1"})
    assert not logged_in(replay(web_app, copy))
    fresh = web_app.test_client()
    login(fresh, AGENT)
    assert logged_in(fresh)


def test_a_session_without_a_version_is_refused(web_app: Flask, runtime: Runtime) -> None:
    # What Flask-Login stored before sessions carried a version: just the user id.
    client = web_app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id(runtime, AGENT))
        session["_fresh"] = True
    assert not logged_in(client)
    # The same session with the current version is accepted (the check above can fail).
    with runtime.db.session() as db:
        agent = db.scalar(select(User).where(User.email == AGENT))
        assert agent is not None
        version = agent.session_version
    with client.session_transaction() as session:
        session["_user_id"] = f"{user_id(runtime, AGENT)}:{version}"
    assert logged_in(client)
