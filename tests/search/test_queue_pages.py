"""Keyset pages of the queue through the API and the UI, and the queue's filters."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from intake.core.db.base import utcnow
from intake.core.db.models import Customer, Mailbox, Ticket, User
from intake.core.runtime import Runtime
from intake.domain import Priority, Role, TicketStatus
from tests.conftest import add_person, json_of, make_app
from tests.search.tickets import add_ticket, minutes
from web.queries import capped_count
from web.queue_filter import QueueFilter, Viewer

AGENT = "agent@example.com"
OTHER = "other@example.com"


@pytest.fixture
def token(runtime: Runtime) -> str:
    add_person(runtime, OTHER, Role.AGENT)
    return add_person(runtime, AGENT, Role.AGENT)


@pytest.fixture
def api(runtime: Runtime, token: str) -> FlaskClient:
    client = make_app(runtime).test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def _random_ticket(runtime: Runtime, rng: random.Random, n: int) -> int:
    now = utcnow()
    with runtime.db.session() as session:
        ticket = add_ticket(
            session,
            f"ticket {n}",
            f"text {n}",
            priority=rng.choice(list(Priority)),
            # Ties and undated tickets on purpose: the order must still be total.
            sla_due_at=rng.choice([None, now + minutes(rng.randrange(0, 5) * 30)]),
            created_at=now - minutes(rng.randrange(0, 3)),
        )
        session.flush()
        return ticket.id


def test_paging_visits_every_ticket_once_while_new_ones_arrive(
    runtime: Runtime, api: FlaskClient
) -> None:
    rng = random.Random(13)
    before = {_random_ticket(runtime, rng, n) for n in range(90)}
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "7", **({"cursor": cursor} if cursor else {})}
        answer = json_of(api.get("/api/tickets", query_string=query))
        seen.extend(t["id"] for t in answer["tickets"])
        pages += 1
        for n in range(3):  # new tickets land before and after the cursor
            _random_ticket(runtime, rng, 1000 + pages * 10 + n)
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)), "a ticket showed twice"
    assert before <= set(seen), "a ticket that was there all along was skipped"
    # The order of what was seen is the queue's order at the time each page was read.
    assert pages >= 90 // 7


def test_pages_follow_the_queue_order_and_bad_cursors_are_refused(
    runtime: Runtime, api: FlaskClient
) -> None:
    rng = random.Random(7)
    for n in range(25):
        _random_ticket(runtime, rng, n)
    whole = json_of(api.get("/api/tickets", query_string={"offset": "0", "limit": "100"}))
    paged: list[int] = []
    cursor = ""
    while cursor is not None:
        answer = json_of(api.get("/api/tickets", query_string={"limit": "4", "cursor": cursor}))
        paged.extend(t["id"] for t in answer["tickets"])
        cursor = answer["next_cursor"]
    assert paged == [t["id"] for t in whole["tickets"]]
    refused = api.get("/api/tickets", query_string={"cursor": "not-a-cursor"})
    assert refused.status_code == 400
    assert "cursor" in json_of(refused)["message"]


def test_search_pages_follow_the_rank_order_with_and_without_filters(
    runtime: Runtime, api: FlaskClient
) -> None:
    """A search page reads the best few hits first and falls back to all of them when the
    filters leave too few: either way the pages are the whole ranked list, each hit once."""
    rng = random.Random(5)
    with runtime.db.session() as session:
        for n in range(45):
            words = ["refund"] * rng.randrange(1, 6) + [f"filler{n % 7}"] * rng.randrange(0, 40)
            rng.shuffle(words)
            # Few open tickets, and those rank low: a filtered page must look past the best hits.
            status = TicketStatus.OPEN if n % 9 == 0 else TicketStatus.NEW
            add_ticket(session, f"ticket {n}", " ".join(words), status=status)
        add_ticket(session, "unrelated", "nothing to see")
    for args in ({}, {"status": "open"}):
        whole = json_of(
            api.get("/api/tickets", query_string={"q": "refund", "limit": "100", **args})
        )
        ranked = [t["id"] for t in whole["tickets"]]
        assert len(ranked) == (45 if not args else 5)
        paged: list[int] = []
        cursor = ""
        while cursor is not None:
            query = {"q": "refund", "limit": "2", "cursor": cursor, **args}
            answer = json_of(api.get("/api/tickets", query_string=query))
            paged.extend(t["id"] for t in answer["tickets"])
            cursor = answer["next_cursor"]
        assert paged == ranked


def _ids(client: FlaskClient, **args: str) -> list[int]:
    answer = json_of(client.get("/api/tickets", query_string={"limit": "100", **args}))
    return sorted(t["id"] for t in answer["tickets"])


def test_filters(runtime: Runtime, api: FlaskClient) -> None:
    now = utcnow()
    with runtime.db.session() as session:
        agent = session.scalars(select(User).where(User.email == AGENT)).one()
        other = session.scalars(select(User).where(User.email == OTHER)).one()
        mailbox = Mailbox(name="sales", addresses=["sales@example.com"])
        vip = Customer(email="vip@example.com", tier="vip", first_contact_at=now - timedelta(400))
        newcomer = Customer(email="new@example.com", first_contact_at=now)
        session.add_all([mailbox, vip, newcomer])
        session.flush()
        rows = {
            "mine": add_ticket(session, "a", assignee_id=agent.id, language="en"),
            "theirs": add_ticket(session, "b", assignee_id=other.id, language="zh"),
            "sales": add_ticket(session, "c", mailbox_id=mailbox.id, complaint=True),
            "overdue": add_ticket(session, "d"),
            "soon": add_ticket(session, "e"),
            "missed": add_ticket(session, "f", status=TicketStatus.RESOLVED),
            "newcomer": add_ticket(session, "g", customer_id=newcomer.id),
        }
        # The VIP has written six times over more than a year: loyal.
        vip_tickets = [
            add_ticket(session, f"vip {n}", customer_id=vip.id, created_at=now - timedelta(n))
            for n in range(6)
        ]
        session.flush()
        ids = {name: t.id for name, t in rows.items()}
        vip_ids = sorted(t.id for t in vip_tickets)
        mailbox_id = mailbox.id
    # The SLA clock keeps these columns itself; set them as it would have, past its reach.
    sla: dict[str, dict[str, Any]] = {
        "overdue": {"sla_due_at": now - minutes(5)},
        "soon": {"sla_due_at": now + minutes(10), "sla_warning_at": now - minutes(1)},
        "missed": {"sla_due_at": None, "sla_breached": True},
    }
    with runtime.db.engine.begin() as connection:
        for name, values in sla.items():
            connection.execute(update(Ticket).where(Ticket.id == ids[name]).values(**values))
    assert _ids(api, assignee="mine") == [ids["mine"]]
    assert _ids(api, assignee=OTHER) == [ids["theirs"]]
    assert ids["mine"] not in _ids(api, assignee="unassigned")
    assert ids["sales"] in _ids(api, assignee="unassigned")
    assert _ids(api, mailbox=str(mailbox_id)) == [ids["sales"]]
    assert _ids(api, complaint="yes") == [ids["sales"]]
    assert _ids(api, language="zh") == [ids["theirs"]]
    # The VIP's older tickets got SLA deadlines from the SLA clock when they were written.
    assert sorted(set(_ids(api, sla="breached")) - set(vip_ids)) == [ids["overdue"]]
    assert _ids(api, sla="due_soon") == [ids["soon"]]
    assert sorted(set(_ids(api, sla="missed")) - set(vip_ids)) == [ids["missed"]]
    assert _ids(api, tier="VIP") == vip_ids
    assert _ids(api, customer_type="loyal") == vip_ids
    assert ids["newcomer"] in _ids(api, customer_type="potential")
    assert _ids(api, customer_type="existing") == []
    assert _ids(api, status="resolved") == [ids["missed"]]


def test_customer_filters_count_tickets_at_the_loyalty_threshold(
    runtime: Runtime, api: FlaskClient
) -> None:
    """Loyalty needs ``loyal_min_tickets`` (5) non-automatic tickets and an old first contact;
    an automatic ticket does not count; tiers match whatever their case. Page and count agree."""
    now = utcnow()
    old = now - timedelta(400)
    with runtime.db.session() as session:
        five = Customer(email="five@example.com", first_contact_at=old)
        four = Customer(email="four@example.com", tier="Gold", first_contact_at=old)
        recent = Customer(email="recent@example.com", first_contact_at=now)
        session.add_all([five, four, recent])
        session.flush()
        loyal = [add_ticket(session, f"five {n}", customer_id=five.id) for n in range(5)]
        gold = [add_ticket(session, f"four {n}", customer_id=four.id) for n in range(4)]
        auto = add_ticket(session, "four auto", customer_id=four.id, automatic=True)
        young = [add_ticket(session, f"recent {n}", customer_id=recent.id) for n in range(6)]
        session.flush()
        loyal_ids = sorted(t.id for t in loyal)
        gold_ids = sorted(t.id for t in gold)
        auto_id = auto.id
        young_ids = sorted(t.id for t in young)
    assert _ids(api, customer_type="loyal") == loyal_ids
    assert _ids(api, customer_type="loyal", automatic="1") == loyal_ids
    assert _ids(api, customer_type="existing") == sorted(gold_ids + young_ids)
    assert _ids(api, tier="gold") == gold_ids
    assert _ids(api, tier="GOLD", automatic="1") == sorted([*gold_ids, auto_id])
    assert _ids(api, tier="vip") == []
    settings = runtime.settings
    with runtime.db.session() as session:
        viewer = Viewer(None, settings, is_admin=True)
        for args, expected in (
            ({"customer_type": "loyal"}, 5),
            ({"customer_type": "existing"}, 10),
            ({"tier": "gold"}, 4),
            ({"tier": "gold", "automatic": "1"}, 5),
        ):
            assert capped_count(session, QueueFilter.from_args(args), viewer) == expected, args
