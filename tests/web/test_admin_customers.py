from __future__ import annotations

from sqlalchemy import select

from intake.core.accept import accept_email
from intake.core.db.models import Customer, Ticket
from intake.core.runtime import Runtime
from intake.domain import Role, Source
from tests.conftest import add_person, login, make_app, run_jobs
from tests.mailfactory import make_mail


def test_a_domain_tier_makes_new_customers_from_that_domain_vip(sqlite_runtime: Runtime) -> None:
    add_person(sqlite_runtime, "boss@example.com", Role.ADMIN)
    client = make_app(sqlite_runtime, WTF_CSRF_ENABLED=False).test_client()
    login(client, "boss@example.com")
    bad = client.post("/admin/customers/tier-domains", data={"tier_domains": "just-a-word"})
    assert bad.status_code == 400 and b"domain = tier" in bad.data
    saved = client.post(
        "/admin/customers/tier-domains",
        data={"tier_domains": "# partners\nBigCorp.example = VIP\n"},
    )
    assert saved.status_code == 302
    accept_email(
        sqlite_runtime,
        make_mail(sender="Ann <ann@bigcorp.example>"),
        source=Source.SMTP,
        envelope_from=None,
        recipients=["support@example.com"],
    )
    run_jobs(sqlite_runtime, "intake", "classify")
    with sqlite_runtime.db.session() as session:
        customer = session.scalars(select(Customer)).one()
        assert customer.tier == "vip"
        ticket = session.scalars(select(Ticket)).one()
        assert any("VIP" in reason for reason in ticket.priority_reasons)
