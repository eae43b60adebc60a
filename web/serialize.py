"""JSON shapes of the API (documented in README and ../shared/DESIGN.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from flask import url_for
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from classify.customer import customer_type
from intake.core.customers import loyalty_thresholds
from intake.core.db.base import utcnow
from intake.core.db.models import (
    Attachment,
    Customer,
    Delivery,
    Message,
    Ticket,
    TicketEvent,
    Transcript,
)
from intake.core.sla import sla_state
from web.context import get_runtime


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def ticket_counts(session: Session, customer_ids: Iterable[int | None]) -> dict[int, int]:
    ids = {i for i in customer_ids if i is not None}
    if not ids:
        return {}
    rows = session.execute(
        select(Ticket.customer_id, func.count(Ticket.id))
        .where(Ticket.customer_id.in_(ids), Ticket.automatic.is_(False))
        .group_by(Ticket.customer_id)
    )
    return {customer_id: count for customer_id, count in rows if customer_id is not None}


def customer_json(customer: Customer | None, count: int) -> dict[str, Any] | None:
    if customer is None:
        return None
    return {
        "id": customer.id,
        "email": customer.email,
        "phone": customer.phone,
        "name": customer.name,
        "type": customer_type(
            count, customer.first_contact_at, utcnow(), loyalty_thresholds(get_runtime().settings)
        ).value,
        "tier": customer.tier,
        "tickets": count,
    }


def ticket_json(ticket: Ticket, counts: dict[int, int]) -> dict[str, Any]:
    return {
        "id": ticket.id,
        "subject": ticket.subject,
        "channel": ticket.channel,
        "status": ticket.status,
        "category": ticket.category,  # the topic
        "category_reasons": ticket.category_reasons,
        "complaint": ticket.complaint,
        "complaint_confidence": ticket.complaint_confidence,
        "complaint_reasons": ticket.complaint_reasons,
        "priority": ticket.priority,
        "priority_reasons": list(ticket.priority_reasons),
        "sentiment": ticket.sentiment,
        "sentiment_score": ticket.sentiment_score,
        "customer": customer_json(ticket.customer, counts.get(ticket.customer_id or 0, 0)),
        "language": ticket.language,
        "confidence": ticket.confidence,
        "needs_review": ticket.needs_review,
        "automatic": ticket.automatic,
        "assignee": ticket.assignee.email if ticket.assignee else None,
        "group": ticket.group,
        "tags": list(ticket.tags),
        "merged_into_id": ticket.merged_into_id,
        "sla_due_at": iso(ticket.sla_due_at),
        # ok | warning (80 % elapsed) | breached (past due) | paused | met: see intake.core.sla
        "sla_state": sla_state(ticket),
        "sla_target": ticket.sla_target,
        "sla_warning_at": iso(ticket.sla_warning_at),
        "sla_breached": ticket.sla_breached,
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
    }


def tickets_json(session: Session, tickets: Sequence[Ticket]) -> list[dict[str, Any]]:
    counts = ticket_counts(session, (t.customer_id for t in tickets))
    return [ticket_json(t, counts) for t in tickets]


def attachment_json(attachment: Attachment) -> dict[str, Any]:
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "inline": attachment.inline,
        "url": url_for("views.attachment", attachment_id=attachment.id),
    }


def transcript_json(transcript: Transcript | None) -> dict[str, Any] | None:
    if transcript is None:
        return None
    return {
        "status": transcript.state,
        "text": transcript.text,
        "language": transcript.language,
        "language_probability": transcript.language_probability,
        "language_source": transcript.language_source,
        # Unclear or unsupported: why. The doubted words are never in ``text``.
        "reason": transcript.reason,
        "candidate_text": transcript.candidate_text,
        "duration": transcript.duration,
        "segments": list(transcript.segments),
        "model": transcript.model,
        "low_confidence": transcript.low_confidence,
        "error": transcript.error,
        "audio_url": url_for("views.message_audio", message_id=transcript.message_id),
    }


def message_json(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "channel": message.channel,
        "direction": message.direction,
        "source": message.source,
        "state": message.state,
        "from": message.from_addr or message.caller_number,
        "from_name": message.from_name or message.caller_name,
        "to": list(message.to_addrs) or list(message.envelope_to),
        "cc": list(message.cc_addrs),
        "subject": message.subject,
        "text": message.text,
        "new_text": message.new_text,
        "has_html": bool(message.html),
        "message_id": message.message_id_header,
        "received_at": iso(message.received_at),
        "sent_at": iso(message.sent_at),
        "flags": list(message.flags),
        # Set when an earlier message (this id) has the same Message-ID but other content.
        "reused_message_id_of": (message.extra or {}).get("reused_message_id_of"),
        "auto_reason": message.auto_reason,
        "error": message.error,
        "attachments": [attachment_json(a) for a in message.attachments],
        "transcript": transcript_json(message.transcript),
        "raw_url": url_for("views.message_raw", message_id=message.id),
        "delivery": delivery_json(message.delivery),
    }


def delivery_json(delivery: Delivery | None) -> dict[str, Any] | None:
    """An outbound mail's way to the relay; ``error`` is the relay's answer to the last try."""
    if delivery is None:
        return None
    return {
        "kind": delivery.kind,
        "state": delivery.state,
        "attempts": delivery.attempts,
        "error": delivery.error,
        "relay_answer": delivery.relay_answer,
        "sent_at": iso(delivery.sent_at),
    }


def event_json(event: TicketEvent) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "actor": event.actor,
        "kind": event.kind,
        "field": event.field,
        "old": event.old,
        "new": event.new,
    }
