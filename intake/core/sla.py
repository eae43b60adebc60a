"""Service-level targets: when a ticket is due, by priority."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.db.models import SlaPolicy
from intake.domain import Priority

# Minutes to first response by priority, used until an admin sets policies.
DEFAULT_FIRST_RESPONSE_MINUTES = {
    Priority.URGENT: 60,
    Priority.HIGH: 4 * 60,
    Priority.MEDIUM: 24 * 60,
    Priority.LOW: 72 * 60,
}


def first_response_due(session: Session, priority: Priority, created_at: datetime) -> datetime:
    policy = session.scalar(select(SlaPolicy).where(SlaPolicy.priority == priority))
    minutes = (
        policy.first_response_minutes
        if policy is not None
        else DEFAULT_FIRST_RESPONSE_MINUTES[priority]
    )
    return created_at + timedelta(minutes=minutes)
