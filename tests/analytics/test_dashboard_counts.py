"""Exact dashboard figures on a small seeded set, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from intake.core.analytics import Filters, backlog, period_of, volume
from intake.core.analytics_customers import customers, ratings
from intake.core.analytics_speed import Percentiles, speed
from intake.core.db.analytics_models import TicketRating
from intake.core.db.models import Ticket, User
from intake.core.runtime import Runtime
from tests.analytics.seeding import Seed, add_customer, insert_tickets

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
MIN = timedelta(minutes=1)


def seed(runtime: Runtime) -> dict[str, int]:
    with runtime.db.session() as session:
        agent = User(email="agent@example.com", password_hash="x")
        session.add(agent)
        session.flush()
        loyal = add_customer(session, "vip@example.com", NOW - 400 * DAY, tier="vip")
        new = add_customer(session, "new@example.com", NOW - 3 * DAY)
        back = add_customer(session, "back@example.com", NOW - 10 * DAY)
        older = [
            Seed(
                NOW - d * DAY,
                "old",
                customer_id=loyal,
                status="resolved",
                resolved_at=NOW - d * DAY + 60 * MIN,
            )
            for d in (300, 200, 100, 50)
        ]
        in_period = [
            # t1: the VIP's fifth ticket (loyal), answered in 30 min, resolved in 2 h.
            Seed(
                NOW - DAY,
                "t1",
                channel="email",
                category="billing",
                sentiment="negative",
                complaint=True,
                priority="urgent",
                customer_id=loyal,
                status="resolved",
                first_response_at=NOW - DAY + 30 * MIN,
                resolved_at=NOW - DAY + 120 * MIN,
            ),
            # t2: the same customer 3 hours later: a repeat contact; missed its SLA.
            Seed(
                NOW - DAY + 180 * MIN,
                "t2",
                category="billing",
                sentiment="neutral",
                priority="high",
                customer_id=loyal,
                first_response_at=NOW - DAY + 270 * MIN,
                sla_breached=True,
            ),
            # t3: a first contact by voicemail.
            Seed(
                NOW - 3 * DAY,
                "t3",
                channel="voicemail",
                category="service_issue",
                sentiment="negative",
                complaint=True,
                customer_id=new,
            ),
            # t5: back after 8 days: no repeat contact (t4 is in the previous period).
            Seed(
                NOW - 2 * DAY,
                "t5",
                category="inquiry",
                sentiment="positive",
                priority="low",
                customer_id=back,
            ),
            # An auto-reply ticket: never counted.
            Seed(NOW - DAY, "ooo", category="other", automatic=True, customer_id=back),
        ]
        t4 = Seed(
            NOW - 10 * DAY,
            "t4",
            category="inquiry",
            customer_id=back,
            status="resolved",
            resolved_at=NOW - 9 * DAY,
        )
        insert_tickets(session, older + [t4])
        t1, t2, t3, t5, _ = insert_tickets(session, in_period)
        session.execute(update(Ticket).where(Ticket.id == t1).values(assignee_id=agent.id))
        session.add_all(
            [
                TicketRating(ticket_id=t1, rating="good", rated_at=NOW - DAY + 180 * MIN),
                TicketRating(ticket_id=t3, rating="bad", comment="cold", rated_at=NOW - DAY),
            ]
        )
    return {"t1": t1, "t2": t2, "t3": t3, "t5": t5}


def test_volume_speed_backlog_customers_and_ratings_are_exact(runtime: Runtime) -> None:
    seed(runtime)
    period = period_of(7, NOW)
    everything = Filters()
    with runtime.db.session() as session:
        v = volume(session, everything, period)
        s = speed(session, everything, period)
        b = backlog(session, everything, period)
        c = customers(session, everything, period)
        r = ratings(session, everything, period)
        vip = volume(session, Filters(tier="vip"), period)
        by_voicemail = volume(session, Filters(channel="voicemail"), period)
        billing = speed(session, Filters(topic="billing"), period)

    assert v.by_topic.days[0] == "2026-03-04" and v.by_topic.days[-1] == "2026-03-10"
    assert v.by_topic.totals() == {"billing": 2, "inquiry": 1, "service_issue": 1}
    assert v.by_topic.series["billing"] == [0, 0, 0, 0, 0, 2, 0]
    assert v.by_channel.totals() == {"email": 3, "voicemail": 1}
    assert v.by_sentiment.totals() == {"negative": 2, "neutral": 1, "positive": 1}
    assert v.by_complaint.totals() == {"complaint": 2, "no complaint": 2}
    assert vip.total == 2 and by_voicemail.total == 1

    assert s.first_response == {
        "urgent": Percentiles(1, 30.0, 30.0),
        "high": Percentiles(1, 90.0, 90.0),
        "all": Percentiles(2, 30.0, 90.0),
    }
    assert s.resolution == {
        "urgent": Percentiles(1, 120.0, 120.0),
        "all": Percentiles(1, 120.0, 120.0),
    }
    assert [(row.priority, row.tickets, row.breached) for row in s.sla] == [
        ("urgent", 1, 0),
        ("high", 1, 1),
        ("medium", 1, 0),
        ("low", 1, 0),
        ("all", 4, 1),
    ]
    assert s.sla[-1].compliance == 0.75
    assert billing.first_response["all"] == Percentiles(2, 30.0, 90.0)

    assert b.series["open at end of day"] == [0, 0, 0, 1, 2, 3, 3]
    assert b.series["created"] == [0, 0, 0, 1, 1, 2, 0]
    assert b.series["resolved"] == [0, 0, 0, 0, 0, 1, 0]

    assert c.repeats.series["repeat contacts"] == [0, 0, 0, 0, 0, 1, 0]
    assert c.repeat_total == 1
    assert c.types == {"potential": 1, "existing": 1, "loyal": 2}
    assert c.tiers == {"none": 2, "vip": 2}

    assert [(x.key, x.good, x.okay, x.bad) for x in r.by_topic] == [
        ("billing", 1, 0, 0),
        ("service_issue", 0, 0, 1),
    ]
    assert [(x.key, x.good, x.bad) for x in r.by_agent] == [
        ("agent@example.com", 1, 0),
        ("none", 0, 1),
    ]
    assert [(x.key, x.score) for x in r.by_channel] == [("email", 1.0), ("voicemail", -1.0)]


def test_an_empty_period_gives_zeros_not_errors(runtime: Runtime) -> None:
    period = period_of(3, NOW)
    with runtime.db.session() as session:
        assert volume(session, Filters(), period).total == 0
        assert speed(session, Filters(), period).first_response == {}
        assert backlog(session, Filters(), period).series["open at end of day"] == [0, 0, 0]
        assert customers(session, Filters(), period).repeat_total == 0
