"""Bulk actions, merges, saved views and the live rows of the queue page."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.db.admin_models import Group, GroupMember, SavedView
from intake.core.db.models import Message, Ticket, TicketEvent, User
from intake.core.runtime import Runtime
from intake.domain import Priority, Role, TicketStatus
from tests.conftest import add_person, json_of, login, make_app
from tests.search.tickets import add_ticket, minutes
from web.queries import queue_page
from web.queue_filter import QueueFilter, Viewer

AGENT = "agent@example.com"
OTHER = "other@example.com"


@pytest.fixture
def agent(runtime: Runtime) -> FlaskClient:
    add_person(runtime, AGENT, Role.AGENT)
    add_person(runtime, OTHER, Role.AGENT)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, AGENT)
    return client


def _three(runtime: Runtime) -> list[int]:
    with runtime.db.session() as session:
        rows = [
            add_ticket(session, f"Lost parcel {n}", f"parcel {n} never came", sender="a@b.example")
            for n in range(3)
        ]
        session.flush()
        return [t.id for t in rows]


def _events(runtime: Runtime, ticket_id: int) -> list[tuple[str, str | None, object]]:
    with runtime.db.session() as session:
        rows = session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        )
        return [(e.kind.value, e.field, e.new) for e in rows]


def test_bulk_assign_status_topic_and_priority_are_logged(
    runtime: Runtime, agent: FlaskClient
) -> None:
    ids = _three(runtime)
    form = {"ids": [str(i) for i in ids[:2]], "back": "/?status=new"}
    for action, field, value in (
        ("assign", "assignee", "me"),
        ("status", "status", "pending"),
        ("category", "category", "billing"),
        ("priority", "priority", "high"),
    ):
        answer = agent.post("/queue/bulk", data={**form, "action": action, field: value})
        assert answer.status_code == 302 and answer.location == "/?status=new"
    with runtime.db.session() as session:
        changed = [session.get(Ticket, i) for i in ids]
        for ticket in changed[:2]:
            assert ticket is not None and ticket.assignee is not None
            assert ticket.assignee.email == AGENT
            assert (ticket.status, ticket.category, ticket.priority) == (
                TicketStatus.PENDING,
                "billing",
                Priority.HIGH,
            )
        assert changed[2] is not None and changed[2].assignee_id is None
    fields = {(kind, field) for kind, field, _ in _events(runtime, ids[0])}
    assert {("change", "assignee"), ("change", "status"), ("change", "category")} <= fields
    assert ("change", "priority") in fields
    assert _events(runtime, ids[2]) == []
    # One refused ticket changes none of the batch.
    refused = agent.post(
        "/queue/bulk", data={"ids": [str(ids[2]), "999999"], "action": "status", "status": "open"}
    )
    assert refused.status_code == 302
    with runtime.db.session() as session:
        assert session.get(Ticket, ids[2]).status == TicketStatus.NEW  # type: ignore[union-attr]


def test_merge_moves_the_thread_leaves_a_link_and_is_logged(
    runtime: Runtime, agent: FlaskClient
) -> None:
    ids = _three(runtime)
    with runtime.db.session() as session:
        oldest = session.get(Ticket, ids[1])
        assert oldest is not None
        oldest.created_at = oldest.created_at - minutes(60)
    answer = agent.post(
        "/queue/bulk", data={"ids": [str(i) for i in ids], "action": "merge"}, follow_redirects=True
    )
    assert f"2 tickets: merged into #{ids[1]}." in answer.text
    with runtime.db.session() as session:
        threads = {
            i: session.scalars(select(Message.id).where(Message.ticket_id == i)).all() for i in ids
        }
        merged = [session.get(Ticket, i) for i in (ids[0], ids[2])]
        assert all(t is not None and t.merged_into_id == ids[1] for t in merged)
        assert all(t is not None and t.status == TicketStatus.RESOLVED for t in merged)
    assert len(threads[ids[1]]) == 3 and threads[ids[0]] == [] and threads[ids[2]] == []
    assert ("merge", "merged_into", ids[1]) in _events(runtime, ids[0])
    assert ("change", "status", "resolved") in _events(runtime, ids[0])
    merged_from = [new for kind, field, new in _events(runtime, ids[1]) if field == "merged_from"]
    assert [m["ticket"] for m in merged_from] == [ids[0], ids[2]]  # type: ignore[index]
    # Search follows the messages to their new ticket.
    with runtime.db.session() as session:
        page = queue_page(
            session,
            QueueFilter(q="never came"),
            Viewer(None, runtime.settings),
        )
        assert [t.id for t in page.tickets] == [ids[1]]
    # The merged ticket's page links to where its thread went.
    assert f'href="/tickets/{ids[1]}"' in agent.get(f"/tickets/{ids[0]}").text
    # Merging again is refused, and changes nothing.
    again = agent.post(
        "/queue/bulk",
        data={"ids": [str(ids[0]), str(ids[1])], "action": "merge"},
        follow_redirects=True,
    )
    assert "already merged" in again.text


def test_api_bulk(runtime: Runtime) -> None:
    token = add_person(runtime, AGENT, Role.AGENT)
    ids = _three(runtime)
    api = make_app(runtime).test_client()
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    answer = api.post(
        "/api/tickets/bulk", json={"ids": ids, "changes": {"status": "open", "assignee": AGENT}}
    )
    assert answer.status_code == 200, answer.text
    merged = api.post("/api/tickets/bulk", json={"ids": ids[1:], "merge_into": ids[0]})
    assert json_of(merged)["done"] == [f"merged into #{ids[0]}"]
    bad = api.post("/api/tickets/bulk", json={"ids": ids, "changes": {"status": "nope"}})
    assert bad.status_code == 422


def test_saved_views_for_me_and_for_everyone(runtime: Runtime, agent: FlaskClient) -> None:
    for name, share in (("my urgent", ""), ("team urgent", "everyone")):
        answer = agent.post(
            "/queue/views",
            data={"name": name, "share": share, "f-priority": "urgent", "f-bogus": "x"},
        )
        assert answer.status_code == 302 and answer.location == "/?priority=urgent"
    with runtime.db.session() as session:
        assert {v.query for v in session.scalars(select(SavedView))} == {"priority=urgent"}
    mine = agent.get("/").text
    assert "my urgent" in mine and "team urgent" in mine
    other = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(other, OTHER)
    theirs = other.get("/").text
    assert "team urgent" in theirs and "my urgent" not in theirs
    with runtime.db.session() as session:
        shared_id = session.scalars(select(SavedView.id).where(SavedView.shared)).one()
    other.post(f"/queue/views/{shared_id}/delete")  # not the owner: refused
    assert "team urgent" in other.get("/").text


def test_live_rows_answer_304_until_a_ticket_arrives(runtime: Runtime, agent: FlaskClient) -> None:
    _three(runtime)
    first = agent.get("/queue/rows?status=new")
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.text.count("data-ticket=") == 3
    same = agent.get("/queue/rows?status=new", headers={"If-None-Match": first.headers["ETag"]})
    assert same.status_code == 304
    with runtime.db.session() as session:
        add_ticket(session, "Brand new ticket", "hello")
    changed = agent.get("/queue/rows?status=new", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200
    data = json_of(changed)
    assert "Brand new ticket" in data["html"] and data["count"] == "4"
    other_filter = agent.get(
        "/queue/rows?status=open", headers={"If-None-Match": changed.headers["ETag"]}
    )
    assert other_filter.status_code == 200


def test_the_queue_page_pages_by_cursor(runtime: Runtime, agent: FlaskClient) -> None:
    with runtime.db.session() as session:
        for n in range(55):
            add_ticket(session, f"Queue ticket {n:02d}", created_at=None)
    page = agent.get("/")
    assert page.text.count('<tr data-ticket="') == 50 and "1,000+" not in page.text
    assert '<span id="queue-count">55</span>' in page.text
    start = page.text.index('id="next-page"')
    href = page.text[page.text.index('href="', start - 400) + 6 :].split('"')[0]
    second = agent.get(href.replace("&amp;", "&"))
    assert second.text.count('<tr data-ticket="') == 5
    assert agent.get("/?cursor=garbage").status_code == 200
    assert "cursor is not one this server gave out" in agent.get("/?cursor=garbage").text


def test_a_view_shared_with_a_group_shows_to_its_members_only(
    runtime: Runtime, agent: FlaskClient
) -> None:
    third = "third@example.com"
    add_person(runtime, third, Role.AGENT)
    with runtime.db.session() as session:
        group = Group(name="billing-team")
        session.add(group)
        session.flush()
        for email in (AGENT, OTHER):
            user = session.scalars(select(User).where(User.email == email)).one()
            session.add(GroupMember(group_id=group.id, user_id=user.id))
    answer = agent.post(
        "/queue/views",
        data={"name": "billing backlog", "share": "group:billing-team", "f-status": "open"},
    )
    assert answer.status_code == 302
    seen = {}
    for email in (OTHER, third):
        client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
        login(client, email)
        seen[email] = "billing backlog" in client.get("/").text
    assert seen == {OTHER: True, third: False}
    refused = agent.post(
        "/queue/views",
        data={"name": "x", "share": "group:other-team", "f-status": "open"},
        follow_redirects=True,
    )
    assert "you are not in the group" in refused.text
