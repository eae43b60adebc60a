from __future__ import annotations

import pytest

from classify.classifier import Classifier, TicketText
from intake.domain import CustomerType


@pytest.fixture(scope="session")
def classifier() -> Classifier:
    return Classifier.default()


def ticket(
    body: str,
    subject: str = "",
    *,
    channel: str = "email",
    sender: str = "customer@example.com",
    mailbox: str | None = "support@shop.example",
    customer_tier: str | None = None,
    customer_type: CustomerType = CustomerType.EXISTING,
    recent_contacts_7d: int = 1,
) -> TicketText:
    return TicketText(
        subject=subject,
        body=body,
        channel=channel,
        sender=sender,
        mailbox=mailbox,
        customer_tier=customer_tier,
        customer_type=customer_type,
        recent_contacts_7d=recent_contacts_7d,
        is_reply=False,
    )
