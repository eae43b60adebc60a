from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from intake.core.accept import accept_email
from intake.core.db.admin_models import Category, ModelVersion, Rule
from intake.core.db.models import Customer, Message, Ticket
from intake.core.jobs import RETRAIN_MODELS
from intake.core.runtime import Runtime
from intake.core.tickets import update_ticket
from intake.domain import ModelTask, SetBy, Source
from tests.conftest import run_jobs
from tests.mailfactory import make_mail


def deliver(runtime: Runtime, raw: bytes) -> Ticket:
    accepted = accept_email(
        runtime, raw, source=Source.SMTP, envelope_from=None, recipients=["support@example.com"]
    )
    run_jobs(runtime, "intake", "classify")
    with runtime.db.session() as session:
        message = session.get(Message, accepted.message_id)
        assert message is not None
        ticket = session.get(Ticket, message.ticket_id)
        assert ticket is not None
        return ticket


def test_a_safety_complaint_lands_urgent_with_readable_reasons(runtime: Runtime) -> None:
    ticket = deliver(
        runtime,
        make_mail(
            subject="Your heater caught fire",
            body="The heater I bought last week started to smoke and caught fire in my "
            "living room. This is unacceptable and dangerous. I want a full refund now.",
        ),
    )
    assert ticket.priority == "urgent"
    assert any("smoke" in r or "fire" in r for r in ticket.priority_reasons)
    assert ticket.sentiment == "negative" and ticket.sentiment_score is not None
    assert ticket.sentiment_score < 0
    assert ticket.language == "en"
    assert ticket.sla_due_at is not None
    assert ticket.category_set_by == "model"


def test_a_chinese_message_is_classified_in_chinese(runtime: Runtime) -> None:
    ticket = deliver(
        runtime,
        make_mail(
            subject="请问这款手机有现货吗",
            body="你好，我想买这款手机，请问什么时候有货？价格是多少？",
        ),
    )
    assert ticket.language in ("zh-Hans", "zh-Hant")
    assert ticket.category == "inquiry"


def test_an_admin_rule_overrides_the_model_and_is_shown_as_a_reason(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        session.add(
            Rule(
                name="partners are high priority",
                position=1,
                definition={
                    "name": "partners are high priority",
                    "conditions": [
                        {"field": "sender_domain", "op": "equals", "value": "customer.org"}
                    ],
                    "actions": {"set_priority": "high", "set_category": "other"},
                    "stop": True,
                },
            )
        )
    ticket = deliver(runtime, make_mail(subject="Hello", body="Just saying thanks for the help!"))
    assert ticket.priority == "high" and ticket.category == "other"
    assert ticket.category_set_by == "rule"
    assert "rule 'partners are high priority'" in ticket.priority_reasons


def test_a_vip_customer_is_prioritized_with_the_tier_as_reason(runtime: Runtime) -> None:
    with runtime.db.session() as session:
        session.add(Customer(email="alice@customer.org", name="Alice", tier="vip"))
    ticket = deliver(runtime, make_mail(body="How do I change my delivery address?"))
    assert any("VIP" in reason for reason in ticket.priority_reasons)


def test_an_agent_choice_survives_reclassification_on_a_new_message(runtime: Runtime) -> None:
    first = deliver(runtime, make_mail(message_id="<c1@customer.org>"))
    with runtime.db.session() as session:
        ticket = session.get(Ticket, first.id)
        assert ticket is not None
        ticket.category, ticket.category_set_by = "suggestion", SetBy.AGENT
    again = deliver(
        runtime, make_mail(in_reply_to="<c1@customer.org>", body="Any news? This is urgent!")
    )
    assert again.id == first.id
    assert again.category == "suggestion"
    with runtime.db.session() as session:
        assert session.scalars(select(Ticket)).one().category == "suggestion"


@pytest.mark.slow
def test_agent_corrections_then_retrain_make_the_next_similar_message_come_out_right(
    sqlite_runtime: Runtime,
) -> None:
    """Topic and priority both learn from agents. A full retrain on the shipped data takes a
    minute: once, on SQLite (its rows are covered on both databases by the other tests)."""
    runtime = sqlite_runtime
    first = deliver(
        runtime,
        make_mail(
            subject="Idea: dark mode for the mobile app",
            body="It would be lovely if the mobile app had a dark mode for night reading.",
            message_id="<idea1@customer.org>",
        ),
    )
    with runtime.db.session() as session:
        session.add(Category(key="feature_request", label="Feature request", position=99))
    with runtime.db.session() as session:
        ticket = session.get(Ticket, first.id)
        assert ticket is not None
        assert ticket.priority != "low"
        update_ticket(session, ticket, {"category": "feature_request", "priority": "low"}, None)
    assert runtime.jobs.enqueue(RETRAIN_MODELS, "test")
    run_jobs(runtime, "classify")
    with runtime.db.session() as session:
        versions = {v.task: v for v in session.scalars(select(ModelVersion))}
        assert set(versions) == {"category", "priority"}
        assert all(v.active for v in versions.values()), [v.metrics for v in versions.values()]
        assert "feature_request" in versions[ModelTask.CATEGORY].metrics["labels"]
        assert versions[ModelTask.PRIORITY].metrics["corrections"] == 1
    second = deliver(
        runtime,
        make_mail(
            sender="Bob <bob@elsewhere.org>",
            subject="Dark mode for the mobile app?",
            body="Could the mobile app get a dark mode for reading at night?",
        ),
    )
    assert second.id != first.id
    assert second.category == "feature_request"
    assert second.priority == "low"


def test_a_mailbox_default_category_applies_to_its_mail(runtime: Runtime) -> None:
    from intake.core.db.models import Mailbox

    with runtime.db.session() as session:
        mailbox = Mailbox(
            name="billing", addresses=["billing@example.com"], default_category="billing"
        )
        session.add(mailbox)
        session.flush()
        mailbox_id = mailbox.id
    accepted = accept_email(
        runtime,
        make_mail(to="billing@example.com", subject="Hello", body="Where is my parcel?"),
        source=Source.SMTP,
        envelope_from=None,
        recipients=["billing@example.com"],
        mailbox_id=mailbox_id,
    )
    run_jobs(runtime, "intake", "classify")
    with runtime.db.session() as session:
        message = session.get(Message, accepted.message_id)
        assert message is not None
        ticket = session.get(Ticket, message.ticket_id)
        assert ticket is not None and ticket.category == "billing"


def test_the_sweeper_schedules_a_retrain_only_after_new_corrections(runtime: Runtime) -> None:
    from intake.core.db.admin_models import Correction
    from intake.core.jobs import JobQueue
    from workers.sweeper import schedule_retrain

    assert schedule_retrain(runtime) is False
    first = deliver(runtime, make_mail())
    with runtime.db.session() as session:
        session.add(Correction(ticket_id=first.id, field="category", new_value="other", text="x"))
    assert schedule_retrain(runtime) is True
    assert any(
        j.startswith("retrain-models-") for j in runtime.jobs.queue(JobQueue.CLASSIFY).job_ids
    )


def test_loyalty_thresholds_come_from_settings(
    tmp_path: Path, sqlite_url: str, redis_url: str
) -> None:
    from intake.core.customers import loyalty_thresholds
    from tests.conftest import make_runtime

    runtime = make_runtime(
        tmp_path, sqlite_url, redis_url, INTAKE_LOYAL_MIN_TICKETS="3", INTAKE_LOYAL_MIN_DAYS="30"
    )
    try:
        thresholds = loyalty_thresholds(runtime.settings)
        assert (thresholds.loyal_min_tickets, thresholds.loyal_min_days) == (3, 30)
    finally:
        runtime.close()
