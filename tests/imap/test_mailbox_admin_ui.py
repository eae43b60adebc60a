"""Admin UI for mailboxes: add, test connection, edit without re-entering the secret, banner."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update

from intake.core.db.base import utcnow
from intake.core.db.models import Mailbox
from intake.core.runtime import Runtime
from intake.core.users import add_user
from intake.domain import Role
from tests.conftest import run_jobs
from tests.imap.conftest import USERS
from tests.imap.dovecot import Dovecot


def login(runtime: Runtime, role: Role) -> FlaskClient:
    from web import create_app

    email = f"{role.value}@example.com"
    with runtime.db.session() as session:
        add_user(session, email, role, "pw-123456789")
    client = create_app(runtime, {"TESTING": True, "WTF_CSRF_ENABLED": False}).test_client()
    response = client.post("/login", data={"email": email, "password": "pw-123456789"})
    assert response.status_code == 302
    return client


@pytest.fixture
def admin(sqlite_runtime: Runtime) -> FlaskClient:
    return login(sqlite_runtime, Role.ADMIN)


def form(dovecot: Dovecot, **changes: str) -> dict[str, str]:
    data = {
        "name": "support",
        "addresses": "support@example.com, help@example.com",
        "imap_host": "127.0.0.1",
        "imap_port": str(dovecot.port),
        "imap_tls": "none",
        "imap_user": "alice",
        "auth_kind": "password",
        "password": USERS["alice"],
        "folder": "INBOX",
        "after": "move",
        "move_folder": "Processed",
        "poll_seconds": "60",
        "backfill_days": "0",
        "enabled": "on",
    }
    data.update(changes)
    return data


def mailbox_id(runtime: Runtime) -> int:
    with runtime.db.session() as session:
        return session.query(Mailbox).one().id


def run_test(admin: FlaskClient, runtime: Runtime, number: int) -> str:
    """Press "Test connection", let the check_mailbox job answer, and read the list again."""
    asked = admin.post(f"/admin/mailboxes/{number}/test", follow_redirects=True)
    page = asked.get_data(as_text=True)
    assert "Testing support: the answer appears below" in page
    assert 'http-equiv="refresh"' in page  # the list looks again until the answer is in
    run_jobs(runtime, "intake")
    page = admin.get("/admin/mailboxes").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in page
    return page


def test_admin_adds_a_mailbox_and_tests_its_connection(
    admin: FlaskClient, sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    response = admin.post("/admin/mailboxes/new", data=form(dovecot), follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Mailbox support added" in page
    assert "move:Processed" in page and "help@example.com" in page
    assert USERS["alice"] not in page

    number = mailbox_id(sqlite_runtime)
    page = run_test(admin, sqlite_runtime, number)
    assert "Test of support succeeded: connected; INBOX holds 0 messages; push (IDLE)" in page

    edit_page = admin.get(f"/admin/mailboxes/{number}/edit").get_data(as_text=True)
    assert USERS["alice"] not in edit_page and "stored; leave blank to keep" in edit_page
    # Saving with a blank password keeps the stored one.
    admin.post(f"/admin/mailboxes/{number}/edit", data=form(dovecot, password="", after="seen"))
    assert "succeeded" in run_test(admin, sqlite_runtime, number)


def test_connection_test_shows_the_servers_exact_refusal(
    admin: FlaskClient, sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    admin.post("/admin/mailboxes/new", data=form(dovecot, password="wrong"))
    page = run_test(admin, sqlite_runtime, mailbox_id(sqlite_runtime))
    assert (
        "Test of support failed: login refused: [AUTHENTICATIONFAILED] Authentication failed."
        in page
    )


def test_invalid_form_input_is_refused_and_the_form_is_shown_again(
    admin: FlaskClient, sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    response = admin.post("/admin/mailboxes/new", data=form(dovecot, move_folder=""))
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "move needs a folder" in page and 'value="support"' in page
    response = admin.post("/admin/mailboxes/new", data=form(dovecot, imap_port="many"))
    assert "imap port must be a whole number" in response.get_data(as_text=True)
    with sqlite_runtime.db.session() as session:
        assert session.query(Mailbox).count() == 0


def test_failing_mailbox_shows_a_banner_to_admins_only(
    admin: FlaskClient, sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    admin.post("/admin/mailboxes/new", data=form(dovecot))
    with sqlite_runtime.db.session() as session:
        session.execute(
            update(Mailbox).values(
                consecutive_failures=5,
                alerted_at=utcnow(),
                last_error="[auth] login refused: [AUTHENTICATIONFAILED] Authentication failed.",
                last_error_at=utcnow(),
                state="error",
            )
        )
    page = admin.get("/admin/mailboxes").get_data(as_text=True)
    assert "Mailbox <a" in page and "failed 5 times in a row" in page
    agent = login(sqlite_runtime, Role.AGENT)
    assert agent.get("/admin/mailboxes").status_code == 403
    assert "failed 5 times in a row" not in agent.get("/").get_data(as_text=True)


def test_admin_disables_enables_and_deletes_a_mailbox(
    admin: FlaskClient, sqlite_runtime: Runtime, dovecot: Dovecot
) -> None:
    admin.post("/admin/mailboxes/new", data=form(dovecot))
    number = mailbox_id(sqlite_runtime)
    page = admin.post(f"/admin/mailboxes/{number}/disable", follow_redirects=True).get_data(
        as_text=True
    )
    assert "Mailbox support disabled" in page and ">disabled<" in page
    admin.post(f"/admin/mailboxes/{number}/enable")
    page = admin.post(f"/admin/mailboxes/{number}/delete", follow_redirects=True).get_data(
        as_text=True
    )
    assert "Mailbox support deleted" in page and "No mailboxes yet." in page
