"""Root causes end to end: the worker job analyses real texts, the API and pages report them."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import func, select

from intake.core.analytics import Filters, period_of
from intake.core.analytics_topics import current_root_causes, root_causes, snapshot_key
from intake.core.db.admin_models import Category
from intake.core.db.analytics_models import (
    ComplaintGroup,
    ComplaintGroupMember,
    RootCauseSnapshot,
    TermDay,
    TicketTerm,
)
from intake.core.db.base import utcnow
from intake.core.runtime import Runtime
from intake.domain import Role
from tests.analytics.corpus import background, cold_food_complaints
from tests.analytics.seeding import Seed, insert_tickets
from tests.conftest import add_person, json_of, login, make_app
from workers.root_causes import analyze_new_tickets, refresh, regroup

ADMIN = "admin@example.com"


def _client(runtime: Runtime) -> tuple[FlaskClient, dict[str, str]]:
    token = add_person(runtime, ADMIN, Role.ADMIN)
    client = make_app(runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, ADMIN)
    return client, {"Authorization": f"Bearer {token}"}


def test_injected_cold_food_complaints_are_the_top_emerging_item(
    runtime: Runtime, shared_data: Path
) -> None:
    now = utcnow()
    rng = random.Random(3)
    # Two weeks of real background texts, then 150 "arrived late and cold" complaints this week.
    seeds = [
        Seed(
            now - timedelta(minutes=rng.randrange(10, 14 * 24 * 60)),
            t.text,
            category=t.topic,
            complaint=t.complaint,
            language=t.language,
        )
        for t in background(shared_data)
    ]
    injected_texts = cold_food_complaints(150)
    injected = [
        Seed(
            now - timedelta(minutes=rng.randrange(10, 6 * 24 * 60)),
            t.text,
            category=t.topic,
            complaint=True,
            sentiment="negative",
            language=t.language,
        )
        for t in injected_texts
    ]
    with runtime.db.session() as session:
        insert_tickets(session, seeds)
        injected_ids = set(insert_tickets(session, injected))
    assert analyze_new_tickets(runtime) == len(seeds) + len(injected)
    assert analyze_new_tickets(runtime) == 0  # nothing twice
    assert regroup(runtime) > 0
    client, headers = _client(runtime)

    data = json_of(client.get("/api/analytics/topics?days=7&topic=service_issue", headers=headers))
    assert set(data) >= {"terms", "emerging", "groups"}
    top = data["emerging"][0]
    named = top.get("label") or top.get("term")
    assert any(word in named for word in ("cold", "凉", "late", "外卖")), data["emerging"][:3]
    assert top["ticket_ids"] and set(top["ticket_ids"]) <= injected_ids, top
    assert top["count"] >= 75 and top["count"] > 3 * top["previous_count"]
    # The English and Chinese complaints form one group of their own, labelled by its top terms.
    group = max(data["groups"], key=lambda g: len(injected_ids & set(g["ticket_ids"])))
    with runtime.db.session() as session:
        members = set(
            session.scalars(
                select(ComplaintGroupMember.ticket_id).where(
                    ComplaintGroupMember.group_id == group["group_id"]
                )
            )
        )
    assert len(members & injected_ids) >= 120 and len(members - injected_ids) <= 5, group
    assert group["previous_count"] == 0 and group["count"] == len(members)
    assert any(word in group["label"] for word in ("cold", "凉", "late", "外卖"))
    assert any(w in group["label"] for w in ("cold", "late")) and "凉" in group["label"]
    terms = {t["term"]: t for t in data["terms"]}
    assert "cold" in terms or "凉" in terms, list(terms)

    # Each item links to its tickets.
    link = f"group_id={top['group_id']}" if "group_id" in top else f"term={top['term']}"
    page = client.get(f"/analytics/tickets?days=7&topic=service_issue&{link}")
    assert page.status_code == 200
    listed = page.get_data(as_text=True)
    assert all(f'data-ticket="{i}"' in listed for i in top["ticket_ids"])

    # Another topic does not show the theme.
    other = json_of(client.get("/api/analytics/topics?days=7&topic=product_issue", headers=headers))
    assert not any(set(i["ticket_ids"]) & injected_ids for i in other["emerging"])


def test_term_counts_are_exact_and_the_roll_up_matches(runtime: Runtime) -> None:
    now = utcnow()
    texts = [
        ("Refund not received for my order", "billing"),
        ("Still no refund for the cancelled order", "billing"),
        ("退款还没有到账", "billing"),
        ("退款到账太慢", "billing"),
        ("申请退款三天了", "billing"),
        ("The app crashes on login", "product_issue"),
    ]
    with runtime.db.session() as session:
        ids = insert_tickets(
            session,
            [Seed(now - timedelta(hours=i + 1), t, category=c) for i, (t, c) in enumerate(texts)],
        )
        insert_tickets(session, [Seed(now, "Refund please", category="billing", classified=False)])
    assert analyze_new_tickets(runtime) == 6  # the unclassified ticket waits
    with runtime.db.session() as session:
        refund = session.scalars(select(TicketTerm.ticket_id).where(TicketTerm.term == "refund"))
        assert sorted(refund) == ids[:2]
        assert (
            session.scalar(select(TermDay.tickets).where(TermDay.term == "退款").limit(1))
            is not None
        )
        assert session.scalar(select(func.sum(TermDay.tickets)).where(TermDay.term == "退款")) == 3
        assert session.scalar(select(func.count()).select_from(ComplaintGroup)) == 0
    client, headers = _client(runtime)
    data = json_of(client.get("/api/analytics/topics?days=7&topic=billing", headers=headers))
    counts = {
        t["term"]: (t["count"], t["previous_count"], sorted(t["ticket_ids"])) for t in data["terms"]
    }
    assert data["tickets"] == 5
    assert counts.get("退款") == (3, 0, sorted(ids[2:5])), counts


def test_the_job_stores_snapshots_that_answer_standard_questions(runtime: Runtime) -> None:
    now = utcnow()
    with runtime.db.session() as session:
        insert_tickets(
            session,
            [
                Seed(now - timedelta(hours=h + 1), "退款还没到账", category="billing")
                for h in range(4)
            ],
        )
    analyze_new_tickets(runtime)
    with runtime.db.session() as session:
        topics = len(session.scalars(select(Category.key)).all())
    assert refresh(runtime, utcnow()) == 3 * (1 + topics)
    period, filters = period_of(30), Filters(topic="billing")
    key = snapshot_key(filters, period)
    assert (
        key is not None and snapshot_key(Filters(topic="billing", channel="email"), period) is None
    )
    with runtime.db.session() as session:
        live = root_causes(session, filters, period).to_json()
        assert current_root_causes(session, filters, period).to_json() == live
        assert {t["term"]: t["count"] for t in live["terms"]}["退款"] == 4
        row = session.get(RootCauseSnapshot, key)
        assert row is not None
        row.data = {**row.data, "tickets": -1}  # marks the snapshot, to see when it is used
    with runtime.db.session() as session:
        assert current_root_causes(session, filters, period).tickets == -1
        row = session.get(RootCauseSnapshot, key)
        assert row is not None
        row.computed_at = utcnow() - timedelta(minutes=20)  # the job stopped: counted live
    with runtime.db.session() as session:
        assert current_root_causes(session, filters, period).tickets == 4
