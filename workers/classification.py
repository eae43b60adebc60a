"""Categorize and prioritize a ticket from its latest customer message (queue ``classify``).

Recomputed from the store each time, so running it twice gives the same result; values an agent
set by hand are never overwritten.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from classify.classifier import Classification, Classifier, TicketText
from classify.customer import customer_type
from classify.rules import RuleDefinition, RuleError
from intake.core import read_once
from intake.core import runtime as runtime_module
from intake.core.activity import Actor, record_change
from intake.core.assignment import auto_assign
from intake.core.customers import loyalty_thresholds
from intake.core.db.admin_models import Rule
from intake.core.db.base import utcnow
from intake.core.db.models import Message, Ticket
from intake.core.jobs import CLASSIFY_TICKET
from intake.core.metrics import observe_classification
from intake.core.runtime import Runtime
from intake.core.settings import Settings
from intake.core.tickets import active_categories
from intake.domain import Channel, CustomerType, Priority, SetBy, TranscriptState
from workers.batching import give_back, take_queued
from workers.classifiers import classifier_cache

log = logging.getLogger(__name__)

RECENT = timedelta(days=7)


def load_rules(session: Session) -> list[RuleDefinition]:
    rules = []
    for row in session.scalars(select(Rule).where(Rule.enabled.is_(True)).order_by(Rule.position)):
        try:
            rules.append(RuleDefinition.from_dict(row.definition))
        except (RuleError, ValueError, TypeError) as exc:
            # Rules are validated when saved; one broken by hand must not stop classification.
            log.error("skipping invalid rule %s (%s): %s", row.id, row.name, exc)
    return rules


def message_body(message: Message) -> str:
    if message.channel == Channel.VOICEMAIL:
        transcript = message.transcript
        if transcript is not None and transcript.state == TranscriptState.DONE:
            return transcript.text or ""
        return ""
    return message.new_text or message.text or ""


@dataclass(frozen=True)
class CustomerContext:
    """Per customer id, what priority reads of the customer's history (one query each, for a
    whole batch of tickets)."""

    requests: dict[int, int]  # tickets so far, as intake.core.customers.ticket_count counts
    recent: dict[int, int]  # inbound messages in the last 7 days

    @classmethod
    def of(cls, session: Session, customer_ids: set[int]) -> CustomerContext:
        if not customer_ids:
            return cls({}, {})
        requests = session.execute(
            select(Ticket.customer_id, func.count(Ticket.id))
            .where(Ticket.customer_id.in_(customer_ids), Ticket.automatic.is_(False))
            .group_by(Ticket.customer_id)
        ).all()
        recent = session.execute(
            select(Ticket.customer_id, func.count(Message.id))
            .join(Ticket, Message.ticket_id == Ticket.id)
            .where(
                Ticket.customer_id.in_(customer_ids),
                Message.direction == "inbound",
                Message.received_at >= utcnow() - RECENT,
            )
            .group_by(Ticket.customer_id)
        ).all()
        return cls(
            {int(c): int(n) for c, n in requests if c is not None},
            {int(c): int(n) for c, n in recent if c is not None},
        )


def recent_contacts(context: CustomerContext, ticket: Ticket) -> int:
    if ticket.customer_id is None:
        return 1
    return max(1, context.recent.get(ticket.customer_id, 0))


def ticket_text(
    settings: Settings, context: CustomerContext, ticket: Ticket, message: Message
) -> TicketText:
    customer = ticket.customer
    kind = CustomerType.POTENTIAL
    if customer is not None:
        kind = customer_type(
            context.requests.get(customer.id, 0),
            customer.first_contact_at,
            utcnow(),
            loyalty_thresholds(settings),
        )
    return TicketText(
        subject=message.subject or ticket.subject or "",
        body=message_body(message),
        channel=message.channel,
        sender=message.from_addr or message.caller_number or "",
        mailbox=ticket.mailbox.name if ticket.mailbox else None,
        customer_tier=customer.tier if customer else None,
        customer_type=kind,
        recent_contacts_7d=recent_contacts(context, ticket),
        is_reply=bool(message.in_reply_to),
    )


def apply_classification(session: Session, ticket: Ticket, result: Classification) -> None:
    by_rule = bool(result.rule_names)
    if ticket.category_set_by != SetBy.AGENT:
        mailbox_default = ticket.mailbox.default_category if ticket.mailbox else None
        if mailbox_default and not by_rule:
            # An admin said what this mailbox receives (billing@, say); rules still come first.
            ticket.category, ticket.category_set_by = mailbox_default, SetBy.RULE
        else:
            ticket.category = result.category
            ticket.category_set_by = SetBy.RULE if by_rule else SetBy.MODEL
        ticket.category_reasons = list(result.category_reasons)
    ticket.complaint = result.complaint
    ticket.complaint_confidence = result.complaint_confidence
    ticket.complaint_reasons = list(result.complaint_reasons)
    if ticket.priority_set_by != SetBy.AGENT:
        priority = Priority(result.priority)
        # The SLA clock follows a new priority by itself (intake.core.sla, before flush).
        ticket.priority = priority
        ticket.priority_rank = priority.rank
        ticket.priority_reasons = list(result.priority_reasons)
        ticket.priority_set_by = SetBy.RULE if by_rule else SetBy.MODEL
    ticket.sentiment = result.sentiment
    ticket.sentiment_score = result.sentiment_score
    ticket.language = result.language
    ticket.confidence = result.confidence
    ticket.needs_review = result.needs_review
    # A rule's group routes (VIP tier -> senior group) over the mailbox's default group.
    mailbox_group = ticket.mailbox.default_group if ticket.mailbox else None
    if result.group and ticket.group in (None, mailbox_group) and result.group != ticket.group:
        record_change(session, ticket, "group", ticket.group, result.group, Actor.SYSTEM)
        ticket.group = result.group
    if result.tags:
        ticket.tags = sorted(set(ticket.tags) | set(result.tags))
    ticket.classified_at = utcnow()


def warm_up(runtime: Runtime) -> None:
    """Load the shipped models and the Chinese word list before the first job needs them."""
    sample = TicketText(subject="你好", body="hello", channel="email", sender="")
    Classifier.default().classify(sample)


# Tickets one job classifies at most: the jobs queued behind it join its transaction and its one
# encoder call (workers.batching). Bounded, so the database's one writer is not held long.
BATCH = 20


def classify_ticket(ticket_id: int) -> str:
    """Classify one ticket (queue ``classify``), with the tickets whose jobs wait behind it.

    A batch commits as one transaction: if it fails, the taken tickets are enqueued again, each
    in a job of its own, and this job is retried by RQ.
    """
    runtime = runtime_module.current()

    def never_classified(ids: list[int]) -> set[int]:
        # Only these may be taken: should this process die before committing, the sweeper
        # finds them again (sweep_unclassified). A re-classification keeps its own job, which
        # RQ hands on if its worker dies.
        with runtime.db.session() as session:
            return set(
                session.scalars(
                    select(Ticket.id).where(Ticket.id.in_(ids), Ticket.classified_at.is_(None))
                )
            )

    taken = take_queued(
        runtime, CLASSIFY_TICKET, BATCH - 1, exclude=ticket_id, only=never_classified
    )
    try:
        outcomes = classify_tickets(runtime, [ticket_id, *taken])
    except Exception:
        give_back(runtime, CLASSIFY_TICKET, taken)
        raise
    for key, outcome in outcomes.items():
        log.info("ticket %s: %s", key, outcome)
    summary = f"; {len(outcomes)} tickets in a batch" if taken else ""
    return outcomes[ticket_id] + summary


def classify_tickets(runtime: Runtime, ticket_ids: list[int]) -> dict[int, str]:
    """Classify tickets in one transaction and one model call; each one's outcome."""
    outcomes = {key: "skipped: no such ticket" for key in ticket_ids}
    with runtime.db.session() as session:
        # Policies and settings are read once for the batch: this session never edits them.
        read_once.hold(session)
        tickets = session.scalars(
            select(Ticket)
            .where(Ticket.id.in_(ticket_ids))
            .options(
                selectinload(Ticket.messages).selectinload(Message.transcript),
                # Read for every ticket (its text, tier and default routing): one query each
                # for the batch instead of a lazy load a ticket.
                selectinload(Ticket.customer),
                selectinload(Ticket.mailbox),
            )
        ).all()
        context = CustomerContext.of(
            session, {t.customer_id for t in tickets if t.customer_id is not None}
        )
        work: list[tuple[Ticket, Message, TicketText]] = []
        for ticket in sorted(tickets, key=lambda t: t.id):
            customer_messages = [
                m for m in ticket.messages if m.direction == "inbound" and not m.is_automatic
            ]
            if not customer_messages:
                outcomes[ticket.id] = "skipped: no customer message"
                continue
            message = customer_messages[-1]
            text = ticket_text(runtime.settings, context, ticket, message)
            work.append((ticket, message, text))
        if not work:
            return outcomes
        classifier = classifier_cache.get(session, runtime.blobs)
        started = time.monotonic()
        results = classifier.classify_many(
            [text for _, _, text in work],
            rules=load_rules(session),
            categories=active_categories(session),
        )
        # Each ticket's share of the one model call, for the classification latency metric.
        each = (time.monotonic() - started) / len(work)
        for (ticket, message, _), result in zip(work, results, strict=True):
            waited = (utcnow() - message.received_at).total_seconds()
            observe_classification(each, waited)
            apply_classification(session, ticket, result)
            outcomes[ticket.id] = f"{result.category}/{result.priority}"
        # One flush for the batch (its hooks, such as the SLA clocks, read their terms once),
        # before assigning: a rule's group decides who may take the ticket.
        session.flush()
        for ticket, _, _ in work:
            auto_assign(session, ticket)
    return outcomes
