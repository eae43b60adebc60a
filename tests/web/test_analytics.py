from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket, Transcript
from intake.core.runtime import Runtime
from intake.domain import Channel
from tests.conftest import add_person, login
from tests.web.conftest import AGENT, people_app
from web.analytics import compute_analytics

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def message(ticket: Ticket, n: int, flags: list[str], at: datetime) -> Message:
    return Message(
        ticket=ticket,
        source="smtp",
        dedup_scope="test",
        dedup_key=f"key-{n}",
        raw_sha256="0" * 64,
        raw_size=1,
        flags=flags,
        received_at=at,
        state="processed",
    )


def seed(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        late_evening = NOW.replace(hour=23, minute=30) - timedelta(days=1)  # still 03-09 in UTC
        tickets = [
            Ticket(
                subject="a",
                channel="email",
                status="new",
                priority="urgent",
                category="billing",
                sentiment="negative",
                created_at=NOW - timedelta(hours=5),
                sla_due_at=NOW - timedelta(hours=4),
            ),
            Ticket(
                subject="b",
                channel="email",
                status="open",
                priority="low",
                category="billing",
                created_at=late_evening,
                first_response_at=late_evening + timedelta(minutes=30),
                sla_due_at=NOW - timedelta(hours=1),
            ),
            Ticket(
                subject="c",
                channel="voicemail",
                status="pending",
                priority="high",
                category="complaint",
                sentiment="negative",
                created_at=NOW - timedelta(days=1),
                first_response_at=NOW - timedelta(days=1) + timedelta(minutes=90),
                sla_due_at=NOW + timedelta(hours=1),
            ),
            Ticket(
                subject="d",
                channel="email",
                status="resolved",
                priority="urgent",
                category="billing",
                created_at=NOW - timedelta(days=2),
                first_response_at=NOW - timedelta(days=2) + timedelta(minutes=10),
                sla_due_at=NOW - timedelta(days=1),
            ),
            Ticket(
                subject="old",
                channel="email",
                status="open",
                priority="medium",
                created_at=NOW - timedelta(days=45),
            ),
            Ticket(
                subject="ooo",
                channel="email",
                status="new",
                automatic=True,
                created_at=NOW - timedelta(hours=2),
                sla_due_at=NOW - timedelta(hours=1),
            ),
        ]
        session.add_all(tickets)
        session.flush()
        session.add_all(
            [
                message(tickets[0], 1, [], NOW - timedelta(hours=5)),
                message(tickets[5], 2, ["auto_reply"], NOW - timedelta(hours=2)),
                message(tickets[5], 3, ["bounce"], NOW - timedelta(hours=2)),
                message(tickets[5], 4, ["auto_reply", "bounce"], NOW - timedelta(days=3)),
                message(tickets[5], 5, ["auto_reply"], NOW - timedelta(days=40)),
            ]
        )
        voicemail = message(tickets[2], 6, [], NOW - timedelta(days=1))
        voicemail.channel = Channel.VOICEMAIL
        session.add(voicemail)
        session.flush()
        session.add(
            Transcript(
                message_id=voicemail.id,
                audio_sha256="1" * 64,
                audio_content_type="audio/wav",
                state="failed",
                error="decoder",
            )
        )


def test_analytics_count_by_day_channel_and_open_breakdowns(both_backends: Runtime) -> None:
    seed(both_backends)
    with both_backends.db.session() as session:
        a = compute_analytics(session, days=30, now=NOW)
    assert len(a.per_day) == 30 and a.per_day[-1].day == "2026-03-10"
    days = {d.day: (d.email, d.voicemail) for d in a.per_day if d.total}
    assert days == {"2026-03-10": (1, 0), "2026-03-09": (1, 1), "2026-03-08": (1, 0)}
    assert a.open_total == 4
    assert a.open_by_status == {"new": 1, "open": 2, "pending": 1}
    assert a.open_by_priority == {"urgent": 1, "high": 1, "medium": 1, "low": 1}
    assert a.open_by_category == {"billing": 2, "complaint": 1, "none": 1}
    assert a.open_by_sentiment == {"negative": 2, "none": 2}
    # a, and old (its SLA policy gives it a due time long past); b was answered; d is
    # resolved; c not due; ooo is automatic.
    assert a.sla_breached == 2
    assert (a.first_response_count, a.median_first_response_minutes) == (3, 30.0)
    assert (a.auto_replies, a.bounces) == (2, 2)
    assert (a.transcripts_failed, a.transcripts_pending) == (1, 0)


def test_analytics_of_an_empty_store_are_zeros_not_errors(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        a = compute_analytics(session, days=7)
    assert [d.total for d in a.per_day] == [0] * 7
    assert a.open_total == 0 and a.median_first_response_minutes is None


def test_agents_see_the_analytics_page(runtime: Runtime, agent: FlaskClient) -> None:
    with runtime.db.session() as session:
        session.add(Ticket(subject="x", status="new", sla_due_at=utcnow() - timedelta(minutes=1)))
    page = agent.get("/analytics?days=7")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "last 7 days" in text
    assert '<div class="stat bad" id="stat-sla"><span class="num">1</span>' in text


@pytest.mark.parametrize("days", ["abc", "-4", "100000"])
def test_a_strange_days_parameter_falls_back_to_a_sane_range(agent: FlaskClient, days: str) -> None:
    assert agent.get(f"/analytics?days={days}").status_code == 200


def test_analytics_json_needs_a_bearer_token(runtime: Runtime) -> None:
    client = people_app(runtime).test_client()
    assert client.get("/api/analytics").status_code == 401
    token = add_person(runtime, "bot@example.com")
    response = client.get("/api/analytics?days=3", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    data = response.json
    assert data is not None and data["days"] == 3
    assert [set(d) for d in data["per_day"]] == [{"day", "email", "voicemail", "total"}] * 3
    login(client, AGENT)
    assert client.get("/api/analytics").status_code == 401
