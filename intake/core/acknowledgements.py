"""The automatic acknowledgement: a new ticket's customer hears within seconds that we have it.

It names the ticket number and the time by which we aim to answer (the ticket's SLA due time),
in the customer's language (English and Chinese templates, admin-editable), and carries
``Auto-Submitted: auto-replied`` with a null envelope sender (RFC 3834), so no well-behaved
program answers it and its bounces come back to no one. It is never sent to automatic mail
(auto-replies, bounces, mailing lists: the parser's flags), ``noreply``-style senders, our own
addresses, more than ``INTAKE_ACK_PER_ADDRESS_PER_DAY`` times a day to one address, for a mail
that joins an existing ticket, or for voicemail whose caller has no email address.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from classify.language import detect_language
from intake.core.app_settings import app_setting, save_app_setting
from intake.core.automatic_mail import (
    MailTemplate,
    automatic_mail,
    check_templates,
    load_templates,
    stored_templates,
)
from intake.core.canned import UNKNOWN_CUSTOMER
from intake.core.db.base import utcnow
from intake.core.db.models import Delivery, Message, Ticket
from intake.core.outbox import queue_mail
from intake.core.replies import customer_address
from intake.core.runtime import Runtime
from intake.core.senders import is_our_address, reply_sender
from intake.domain import Channel, Direction, MessageFlag, OutboundKind
from intake.errors import RejectedError
from intake.mail.model import Address

log = logging.getLogger(__name__)

SETTING_KEY = "acknowledgements"
PLACEHOLDERS = ("customer_name", "ticket_id", "subject", "response_time", "due_at")
NOT_ACKNOWLEDGED = frozenset(
    {MessageFlag.AUTO_REPLY, MessageFlag.BOUNCE, MessageFlag.LIST, MessageFlag.UNPARSEABLE}
)
# Local parts of addresses no person reads (no-reply@, mailer-daemon@, bounces+123@ ...).
_NOREPLY = re.compile(
    r"^(?:.*no[-_.]?reply.*|do[-_.]?not[-_.]?reply.*|dont[-_.]?reply.*|mailer[-_.]?daemon"
    r"|postmaster|bounces?|notifications?|notify|alerts?|automated|auto[-_.]?(?:reply|responder)"
    r"|daemon|listserv|majordomo|root)(?:[-+_.].*)?$",
    re.IGNORECASE,
)


DEFAULT_TEMPLATES = {
    "en": MailTemplate(
        "We received your message: {subject} [#{ticket_id}]",
        "Dear {customer_name},\n\n"
        "thank you for contacting us. We received your message and opened ticket {ticket_id} "
        "for it; it is being handled. We aim to answer within {response_time} (by {due_at}).\n\n"
        "To add anything, simply reply to this mail.\n\n"
        "This is an automatic message.",
    ),
    "zh": MailTemplate(
        "我们已收到您的来信：{subject} [#{ticket_id}]",
        "{customer_name}，您好：\n\n"
        "感谢您联系我们。我们已收到您的来信并创建了工单 {ticket_id}，正在处理中。"
        "我们将在 {response_time}内答复您（{due_at} 前）。\n\n"
        "如需补充信息，请直接回复本邮件。\n\n"
        "此邮件为系统自动发送。",
    ),
}


@dataclass(frozen=True)
class AckSettings:
    """Admin-set (Admin > Acknowledgements); per-mailbox switches are on the mailbox rows."""

    domain_mail: bool = True  # mail accepted by domain, and voicemail without a mailbox
    templates: dict[str, MailTemplate] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))


def load_ack_settings(session: Session) -> AckSettings:
    value = app_setting(session, SETTING_KEY)
    return AckSettings(
        domain_mail=bool(value.get("domain_mail", True)),
        templates=load_templates(value.get("templates"), DEFAULT_TEMPLATES),
    )


def save_ack_settings(session: Session, settings: AckSettings) -> None:
    check_templates(settings.templates)
    value = {"domain_mail": settings.domain_mail, "templates": stored_templates(settings.templates)}
    save_app_setting(session, SETTING_KEY, value)


def ack_language(ticket: Ticket, message: Message) -> str:
    language = ticket.language or detect_language(
        f"{message.subject or ''}\n{message.new_text or message.text or ''}"
    )
    return "zh" if language.startswith("zh") else "en"


def response_time(due: datetime | None, now: datetime, language: str) -> str:
    """How long until ``due``, in words: ``4 hours``, ``2 天``."""
    if due is None:
        return "短时间" if language == "zh" else "a short time"
    minutes = max(1, math.ceil((due - now) / timedelta(minutes=1)))
    if minutes <= 90:
        number, unit_en, unit_zh = minutes, "minute", "分钟"
    elif minutes <= 48 * 60:
        number, unit_en, unit_zh = round(minutes / 60), "hour", "小时"
    else:
        number, unit_en, unit_zh = round(minutes / 1440), "day", "天"
    if language == "zh":
        return f"{number} {unit_zh}"
    return f"{number} {unit_en}{'' if number == 1 else 's'}"


def is_noreply(address: str) -> bool:
    return bool(_NOREPLY.match(address.partition("@")[0]))


def _is_new_ticket(session: Session, ticket: Ticket, message: Message) -> bool:
    earlier = session.scalar(
        select(Message.id)
        .where(
            Message.ticket_id == ticket.id,
            Message.id != message.id,
            Message.direction == Direction.INBOUND,
            Message.received_at <= message.received_at,
        )
        .limit(1)
    )
    return earlier is None


def _already_acknowledged(session: Session, ticket: Ticket) -> bool:
    return (
        session.scalar(
            select(Delivery.id)
            .join(Message, Message.id == Delivery.message_id)
            .where(Message.ticket_id == ticket.id, Delivery.kind == OutboundKind.ACKNOWLEDGEMENT)
            .limit(1)
        )
        is not None
    )


def _sent_today(session: Session, address: str, now: datetime) -> int:
    return (
        session.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.kind == OutboundKind.ACKNOWLEDGEMENT,
                Delivery.recipient == address.lower(),
                Delivery.created_at > now - timedelta(days=1),
            )
        )
        or 0
    )


def _switched_on(session: Session, message: Message) -> bool:
    if message.mailbox is not None:
        return message.mailbox.acknowledge
    return load_ack_settings(session).domain_mail


def _recipient(runtime: Runtime, ticket: Ticket, message: Message) -> Address | None:
    if ticket.channel is Channel.VOICEMAIL:
        # The mail that carried a voicemail comes from the phone system, not the caller.
        customer = ticket.customer
        return Address(customer.name or "", customer.email) if customer and customer.email else None
    try:
        return customer_address(runtime, ticket, message)
    except RejectedError:
        return None


def why_not_acknowledge(
    runtime: Runtime, session: Session, message: Message, ticket: Ticket, now: datetime
) -> str | Address:
    """The address to acknowledge, or the reason not to (logged)."""
    if not runtime.settings.outbound_smtp_url:
        return "no outbound relay configured"
    if message.direction is not Direction.INBOUND:
        return "not a customer's message"
    if ticket.automatic or NOT_ACKNOWLEDGED.intersection(message.flags or ()):
        return f"automatic mail ({message.auto_reason or ', '.join(message.flags)})"
    if not _switched_on(session, message):
        return "acknowledgements are switched off for this mailbox"
    # The checks below query by the ticket's id: a new ticket gets it at a flush.
    session.flush()
    if not _is_new_ticket(session, ticket, message) or _already_acknowledged(session, ticket):
        return "the message joined an existing ticket"
    recipient = _recipient(runtime, ticket, message)
    if recipient is None:
        return "no email address to answer"
    if is_noreply(recipient.email):
        return f"{recipient.email} is a no-reply address"
    if is_our_address(session, runtime.settings, recipient.email):
        return f"{recipient.email} is one of our own addresses"
    limit = runtime.settings.ack_per_address_per_day
    if _sent_today(session, recipient.email, now) >= limit:
        return f"{recipient.email} had {limit} acknowledgements in the last 24 hours"
    return recipient


def acknowledge_new_ticket(
    runtime: Runtime, session: Session, message: Message, ticket: Ticket
) -> Message | None:
    """Queue the acknowledgement of a new ticket when it is due (sent once ``session`` commits)."""
    now = utcnow()
    verdict = why_not_acknowledge(runtime, session, message, ticket, now)
    if isinstance(verdict, str):
        # Most verdicts need no flush (no relay, automatic mail): none here, so a batch of
        # messages that are not acknowledged is written at the batch's flushes, not one each.
        log.info("ticket %s not acknowledged: %s", ticket.id or "(new)", verdict)
        return None
    try:
        sender = reply_sender(runtime.settings, ticket, message)
    except RejectedError as exc:
        log.info("ticket %s not acknowledged: %s", ticket.id, exc)
        return None
    language = ack_language(ticket, message)
    template = load_ack_settings(session).templates[language]
    due = ticket.sla_due_at
    values = {
        "customer_name": verdict.name or UNKNOWN_CUSTOMER[language],
        "ticket_id": str(ticket.id),
        "subject": ticket.subject or "",
        "response_time": response_time(due, now, language),
        "due_at": due.strftime("%Y-%m-%d %H:%M UTC") if due else "—",
    }
    mail = automatic_mail(
        sender=sender,
        to=verdict,
        template=template,
        values=values,
        ticket_id=ticket.id,
        answers=message.message_id_header,
        date=now,
        auto_submitted="auto-replied",
    )
    try:
        return queue_mail(
            runtime, session, mail, kind=OutboundKind.ACKNOWLEDGEMENT, ticket=ticket, mail_from=""
        )
    except RejectedError as exc:  # refused before anything was written: the ticket stands
        log.warning("ticket %s not acknowledged: %s", ticket.id, exc)
        return None
