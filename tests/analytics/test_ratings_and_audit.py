"""The signed rating link (works once, expires, cannot be forged) and the audit log."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.activity import Actor
from intake.core.audit import AuditQuery, audit_as, search
from intake.core.db.admin_models import AuditEntry
from intake.core.db.analytics_models import TicketRating
from intake.core.db.base import utcnow
from intake.core.db.models import Ticket, User
from intake.core.ratings import rating_links, rating_token
from intake.core.runtime import Runtime
from intake.core.tickets import update_ticket
from intake.domain import Role
from tests.conftest import add_person, login, make_app

ADMIN = "admin@example.com"
AGENT = "agent@example.com"


@pytest.fixture
def ticket_id(sqlite_runtime: Runtime) -> int:
    with sqlite_runtime.db.session() as session:
        ticket = Ticket(subject="where is my order", status="resolved", category="service_issue")
        session.add(ticket)
        session.flush()
        return ticket.id


def _path(url: str) -> str:
    return urlsplit(url).path


def test_a_rating_link_works_once(sqlite_runtime: Runtime, ticket_id: int) -> None:
    with sqlite_runtime.db.session() as session:
        ticket = session.get(Ticket, ticket_id)
        assert ticket is not None
        links = rating_links(ticket, sqlite_runtime.settings)
    assert set(links) == {"good", "okay", "bad"}
    assert links["good"].startswith("http://127.0.0.1:8080/rate/")
    client = make_app(sqlite_runtime, WTF_CSRF_ENABLED=False).test_client()

    page = client.get(_path(links["bad"]))
    assert page.status_code == 200
    assert 'value="bad" checked' in page.get_data(as_text=True)  # nothing stored on GET
    posted = client.post(_path(links["bad"]), data={"rating": "okay", "comment": " 冷了 "})
    assert posted.status_code == 200 and "Thank you" in posted.get_data(as_text=True)
    with sqlite_runtime.db.session() as session:
        rows = session.scalars(select(TicketRating)).all()
        assert [(r.ticket_id, r.rating, r.comment) for r in rows] == [(ticket_id, "okay", "冷了")]

    again = client.post(_path(links["good"]), data={"rating": "good"})
    assert again.status_code == 410 and "already been rated" in again.get_data(as_text=True)
    assert client.get(_path(links["bad"])).status_code == 410
    with sqlite_runtime.db.session() as session:
        assert len(session.scalars(select(TicketRating)).all()) == 1


def test_a_rating_link_expires(
    sqlite_runtime: Runtime, ticket_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = sqlite_runtime.settings
    real = time.time()
    monkeypatch.setattr(time, "time", lambda: real - 31 * 86_400)
    old = rating_token(settings, ticket_id, "good")
    monkeypatch.setattr(time, "time", lambda: real - 29 * 86_400)
    recent = rating_token(settings, ticket_id, "good")
    monkeypatch.undo()
    client = make_app(sqlite_runtime, WTF_CSRF_ENABLED=False).test_client()
    expired = client.post(f"/rate/{old}", data={"rating": "good"})
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    assert client.get(f"/rate/{recent}").status_code == 200
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(TicketRating)).all() == []


def test_a_rating_link_cannot_be_forged(sqlite_runtime: Runtime, ticket_id: int) -> None:
    settings = sqlite_runtime.settings
    genuine = rating_token(settings, ticket_id, "good")
    payload, _, signature = genuine.partition(".")
    other_ticket = (
        base64.urlsafe_b64encode(
            json.dumps({"t": ticket_id + 1, "r": "good"}, separators=(",", ":")).encode()
        )
        .decode()
        .rstrip("=")
    )
    other_secret = replace(settings, secret_key="another-installation-" * 3)
    forgeries = [
        f"{other_ticket}.{signature}",  # someone else's ticket under this link's signature
        genuine[:-2] + ("AA" if not genuine.endswith("AA") else "BB"),  # a changed signature
        rating_token(other_secret, ticket_id, "bad"),  # signed with another key
        "not-a-token",
    ]
    client = make_app(sqlite_runtime, WTF_CSRF_ENABLED=False).test_client()
    for token in forgeries:
        answer = client.post(f"/rate/{token}", data={"rating": "bad"})
        assert answer.status_code == 400, token
        assert "not valid" in answer.get_data(as_text=True)
    with sqlite_runtime.db.session() as session:
        assert session.scalars(select(TicketRating)).all() == []
    assert payload  # the genuine token still works afterwards
    assert client.post(f"/rate/{genuine}", data={}).status_code == 200


def _admin(runtime: Runtime) -> FlaskClient:
    add_person(runtime, ADMIN, Role.ADMIN)
    add_person(runtime, AGENT, Role.AGENT)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, ADMIN)
    return client


def test_admin_changes_are_audited_field_by_field(runtime: Runtime) -> None:
    client = _admin(runtime)
    with runtime.db.session() as session:
        agent = session.scalar(select(User).where(User.email == AGENT))
        assert agent is not None
        agent_id = agent.id
    assert client.post(f"/admin/people/{agent_id}/role", data={"role": "admin"}).status_code == 302
    password = {"password": "a-new-long-password"}
    assert client.post(f"/admin/people/{agent_id}/password", data=password).status_code == 302
    added = client.post("/admin/categories", data={"key": "warranty", "label": "Warranty"})
    assert added.status_code == 302
    with runtime.db.session() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        seen = {
            (e.actor, e.action, e.object_type, e.field, str(e.old), str(e.new)) for e in entries
        }
        assert (ADMIN, "update", "user", "role", "agent", "admin") in seen
        assert (ADMIN, "update", "user", "password_hash", "(secret)", "(secret)") in seen
        created = [e for e in entries if e.object_type == "category" and e.action == "create"]
        assert created and created[0].new["key"] == "warranty"
        assert all("argon" not in json.dumps(e.new) and "$" not in str(e.new) for e in entries)
        # Changes outside a logged-in request (workers, the CLI) carry no actor: not logged here.
        before = len(entries)
    with runtime.db.session() as session:
        user = session.get(User, agent_id)
        assert user is not None
        user.name = "changed by a job"
    with runtime.db.session() as session:
        assert len(session.scalars(select(AuditEntry)).all()) == before


def test_the_audit_page_searches_admin_and_ticket_changes_and_exports_csv(
    runtime: Runtime,
) -> None:
    client = _admin(runtime)
    with runtime.db.session() as session:
        admin = session.scalar(select(User).where(User.email == ADMIN))
        ticket = Ticket(subject="x", status="new")
        session.add(ticket)
        session.flush()
        update_ticket(session, ticket, {"priority": "urgent"}, admin)
        ticket_id = ticket.id
    client.post("/admin/categories", data={"key": "warranty", "label": "Warranty"})
    with runtime.db.session() as session:
        audit_as(session, Actor(None, "someone-else@example.com"))
        session.add(Ticket(subject="not audited: tickets are in the activity log"))
    page = client.get(f"/admin/audit?object=ticket:{ticket_id}").get_data(as_text=True)
    assert f'data-object="ticket:{ticket_id}"' in page and "urgent" in page
    assert 'data-object="category:' not in page
    by_actor = client.get("/admin/audit?actor=someone-else").get_data(as_text=True)
    assert "Nothing matches." in by_actor
    today = utcnow().date()
    window = f"since={today - timedelta(days=1)}&until={today}"
    found = client.get(f"/admin/audit?object=category&{window}").get_data(as_text=True)
    assert 'data-object="category:' in found
    old = client.get(f"/admin/audit?object=category&until={today - timedelta(days=2)}")
    assert "Nothing matches." in old.get_data(as_text=True)
    csv_text = client.get("/admin/audit/export.csv").get_data(as_text=True)
    lines = csv_text.lstrip("\ufeff").splitlines()
    assert lines[0] == "at,actor,action,object,label,field,old,new"
    assert any(f"ticket:{ticket_id},,priority,medium,urgent" in line for line in lines)
    assert any(",create,category:" in line for line in lines)
    with runtime.db.session() as session:
        rows = search(session, AuditQuery(actor=ADMIN))
        assert {r.object_type for r in rows} >= {"ticket", "category"}

    agent = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(agent, AGENT)
    assert agent.get("/admin/audit").status_code == 403
    assert agent.get("/admin/audit/export.csv").status_code == 403
