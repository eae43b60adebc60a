"""Service-level targets: when a ticket is due, by priority."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.db.models import SlaPolicy

# Minutes to first response by priority, used until an admin sets policies.
DEFAULT_FIRST_RESPONSE_MINUTES = {"urgent": 60, "high": 4 * 60, "medium": 24 * 60, "low": 72 * 60}


def first_response_due(session: Session, priority: str, created_at: datetime) -> datetime:
    policy = session.scalar(select(SlaPolicy).where(SlaPolicy.priority == priority))
    minutes = (
        policy.first_response_minutes
        if policy is not None
        else DEFAULT_FIRST_RESPONSE_MINUTES.get(priority, DEFAULT_FIRST_RESPONSE_MINUTES["medium"])
    )
    return created_at + timedelta(minutes=minutes)
