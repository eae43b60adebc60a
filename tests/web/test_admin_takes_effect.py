"""What an admin sets in the UI changes how the next message is classified, with no restart."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from intake.core.accept import accept_email
from intake.core.customer_import import import_customers
from intake.core.db.models import Ticket
from intake.core.runtime import Runtime
from intake.domain import Source
from tests.conftest import run_jobs
from tests.mailfactory import make_mail


def deliver(runtime: Runtime, subject: str, sender: str) -> Ticket:
    accept_email(
        runtime,
        make_mail(subject=subject, sender=sender),
        source=Source.SMTP,
        envelope_from=None,
        recipients=["support@example.com"],
    )
    run_jobs(runtime, "intake", "classify")
    with runtime.db.session() as session:
        ticket = session.scalar(select(Ticket).where(Ticket.subject == subject))
        assert ticket is not None
        return ticket


def test_a_new_category_rule_and_vip_tier_apply_to_the_next_message(
    runtime: Runtime, admin: FlaskClient
) -> None:
    admin.post("/admin/categories", data={"key": "warranty", "label": "Warranty"})
    admin.post(
        "/admin/rules",
        data={
            "mode": "form",
            "name": "Warranty",
            "field": "subject",
            "op": "contains",
            "value": "warranty",
            "set_category": "warranty",
        },
    )
    admin.post(
        "/admin/rules",
        data={
            "mode": "json",
            "definition": '{"name": "VIPs first", "conditions": [{"field": "customer_tier", '
            '"op": "equals", "value": "vip"}], "actions": {"set_priority": "urgent"}}',
        },
    )
    admin.post("/admin/sla", data={"urgent": "5", "high": "10", "medium": "20", "low": "30"})
    first = deliver(runtime, "Warranty claim for my kettle", "Kim <kim@customer.org>")
    assert first.category == "warranty" and first.category_set_by == "rule"

    with runtime.db.session() as session:
        import_customers(session, [{"email": "kim@customer.org", "tier": "vip"}])
    second = deliver(runtime, "Another warranty question", "Kim <kim@customer.org>")
    assert (second.category, second.priority) == ("warranty", "urgent")
    assert second.sla_due_at is not None
    assert (second.sla_due_at - second.created_at).total_seconds() == 5 * 60
    assert first.priority != "urgent"
