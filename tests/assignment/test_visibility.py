"""Who sees which ticket, over HTTP: agents their groups' tickets, their own and ungrouped ones;
admins every ticket. The queue, the ticket page, the API and the customer page agree."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.db.admin_models import Group
from intake.core.db.models import Customer, Message, Ticket, User
from intake.core.groups import create_group, set_members
from intake.core.runtime import Runtime
from intake.domain import Role, Source, TicketStatus
from tests.conftest import add_person, json_of, login, make_app

ADMIN, ANN, BOB = "admin@example.com", "ann@example.com", "bob@example.com"


@pytest.fixture
def world(runtime: Runtime) -> dict[str, object]:
    """Ann works billing, Bob senior; tickets in each group, in none, in an undefined one."""
    tokens = {ADMIN: add_person(runtime, ADMIN, Role.ADMIN)}
    tokens[ANN] = add_person(runtime, ANN)
    tokens[BOB] = add_person(runtime, BOB)
    with runtime.db.session() as session:
        users = {u.email: u for u in session.scalars(select(User))}
        set_members(session, create_group(session, "billing"), [users[ANN].id])
        set_members(session, create_group(session, "senior"), [users[BOB].id])
        customer = Customer(email="kim@example.org", name="Kim")
        session.add(customer)

        def ticket(subject: str, group: str | None, assignee: str | None = None) -> int:
            row = Ticket(
                subject=subject,
                status=TicketStatus.OPEN,
                group=group,
                customer=customer,
                assignee_id=users[assignee].id if assignee else None,
            )
            session.add(row)
            session.flush()
            return row.id

        raw = b"From: vip@example.org\r\nSubject: vip complaint\r\n\r\nhello\r\n"
        ids = {
            "billing": ticket("billing question", "billing"),
            "senior": ticket("vip complaint", "senior"),
            "ungrouped": ticket("no group yet", None),
            "undefined": ticket("old group name", "legacy"),
            "bobs_billing": ticket("billing, Bob's", "billing", BOB),
        }
        message = Message(
            ticket_id=ids["senior"],
            source=Source.SMTP,
            dedup_scope="test",
            dedup_key="vip-1",
            raw_sha256=runtime.blobs.put(raw),
            raw_size=len(raw),
        )
        session.add(message)
        session.flush()
        ids["senior_message"] = message.id
    return {"tokens": tokens, "ids": ids}


def web_client(runtime: Runtime, email: str) -> FlaskClient:
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, email)
    return client


def api_ids(client: FlaskClient, token: str) -> set[int]:
    answer = json_of(client.get("/api/tickets", headers={"Authorization": f"Bearer {token}"}))
    return {t["id"] for t in answer["tickets"]}


def test_agents_see_their_groups_their_own_and_ungrouped_tickets(
    runtime: Runtime, world: dict[str, object]
) -> None:
    ids: dict[str, int] = world["ids"]  # type: ignore[assignment]
    tokens: dict[str, str] = world["tokens"]  # type: ignore[assignment]
    message_id = ids.pop("senior_message")
    expected = {
        ADMIN: set(ids.values()),
        ANN: {ids["billing"], ids["ungrouped"], ids["undefined"], ids["bobs_billing"]},
        BOB: {ids["senior"], ids["ungrouped"], ids["undefined"], ids["bobs_billing"]},
    }
    for email, visible in expected.items():
        client = web_client(runtime, email)
        assert api_ids(client, tokens[email]) == visible, email
        queue = client.get("/").get_data(as_text=True)
        assert {int(i) for i in re.findall(r'data-ticket="(\d+)"', queue)} == visible, email
        for name, ticket_id in ids.items():
            page = client.get(f"/tickets/{ticket_id}")
            api = client.get(
                f"/api/tickets/{ticket_id}", headers={"Authorization": f"Bearer {tokens[email]}"}
            )
            want = 200 if ticket_id in visible else 404
            assert (page.status_code, api.status_code) == (want, want), (email, name)
        with client.get(f"/messages/{message_id}/raw") as raw:
            assert raw.status_code == (200 if ids["senior"] in visible else 404), email


def test_a_hidden_ticket_cannot_be_changed_either(
    runtime: Runtime, world: dict[str, object]
) -> None:
    ids: dict[str, int] = world["ids"]  # type: ignore[assignment]
    tokens: dict[str, str] = world["tokens"]  # type: ignore[assignment]
    client = web_client(runtime, ANN)
    senior = ids["senior"]
    patched = client.patch(
        f"/api/tickets/{senior}",
        json={"status": "resolved"},
        headers={"Authorization": f"Bearer {tokens[ANN]}"},
    )
    assert patched.status_code == 404
    assert client.post(f"/tickets/{senior}", data={"status": "resolved"}).status_code == 404
    with runtime.db.session() as session:
        row = session.get(Ticket, senior)
        assert row is not None and row.status == TicketStatus.OPEN


def test_the_customer_page_lists_only_the_tickets_the_agent_may_see(
    runtime: Runtime, world: dict[str, object]
) -> None:
    ids: dict[str, int] = world["ids"]  # type: ignore[assignment]
    with runtime.db.session() as session:
        customer_id = session.scalar(select(Customer.id))
    ann = web_client(runtime, ANN).get(f"/customers/{customer_id}").get_data(as_text=True)
    admin = web_client(runtime, ADMIN).get(f"/customers/{customer_id}").get_data(as_text=True)
    assert f'data-ticket="{ids["senior"]}"' not in ann
    assert f'data-ticket="{ids["billing"]}"' in ann
    assert all(f'data-ticket="{i}"' in admin for i in ids.values())


def test_admins_manage_groups_and_agents_cannot(runtime: Runtime) -> None:
    add_person(runtime, ADMIN, Role.ADMIN)
    add_person(runtime, ANN)
    with runtime.db.session() as session:
        ann_id = session.scalar(select(User.id).where(User.email == ANN))
    admin = web_client(runtime, ADMIN)
    answer = admin.post(
        "/admin/groups",
        data={"name": "Senior", "strategy": "least_open", "max_open": "5", "members": [ann_id]},
        follow_redirects=True,
    )
    assert "Group &#39;Senior&#39; added." in answer.get_data(as_text=True)
    refused = admin.post(
        "/admin/groups", data={"name": "x", "strategy": "lottery"}, follow_redirects=True
    )
    assert "unknown assignment" in refused.get_data(as_text=True)
    agent = web_client(runtime, ANN)
    assert agent.get("/admin/groups").status_code == 403
    assert agent.post("/admin/groups", data={"name": "mine"}).status_code == 403
    with runtime.db.session() as session:
        groups = {g.name: g for g in session.scalars(select(Group))}
        assert set(groups) == {"Senior"}
        assert [m.email for m in groups["Senior"].members] == [ANN]
        assert (groups["Senior"].strategy, groups["Senior"].max_open) == ("least_open", 5)
    # Ann marks herself away; the page shows it to admins.
    agent.post("/me/away", data={"away": "1"})
    page = admin.get("/admin/groups").get_data(as_text=True)
    assert re.search(r'data-user="ann@example.com">.*?<span class="pill">away</span>', page, re.S)
