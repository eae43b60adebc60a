"""The resolution email: a resolved ticket's customer hears so, with one-click rating links.

Whoever resolves the ticket (an agent on its page, the API, a bulk action) goes through
``intake.core.tickets.update_ticket``, which calls ``resolution_email_on_resolve``. The mail is
queued in the outbox in the same transaction as the status change (so it goes out only if the
change commits), in the ticket's language (English and Chinese templates, admin-editable on the
acknowledgements page), and carries the signed good / okay / bad links of ``intake.core.ratings``
as absolute URLs under ``INTAKE_BASE_URL``.

It is not sent: without an outbound relay; for automatic tickets, tickets merged into another, or
tickets already rated; when the ticket's mailbox (or, without one, mail accepted by domain) has it
switched off; twice for the same resolution; or when there is no customer address to write to
(a voicemail caller without an email address, a no-reply sender, one of our own addresses).
Each queued mail is recorded in the ticket's activity log; each reason not to send is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core import runtime as runtime_module
from intake.core.acknowledgements import NOT_ACKNOWLEDGED, is_noreply
from intake.core.activity import Actor, record_event
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
from intake.core.ratings import RATING_LINK_DAYS, existing_rating, rating_links_for
from intake.core.replies import customer_address
from intake.core.runtime import Runtime
from intake.core.senders import is_our_address, reply_sender
from intake.domain import Channel, Direction, EventKind, OutboundKind
from intake.errors import RejectedError
from intake.mail.model import Address

log = logging.getLogger(__name__)

SETTING_KEY = "resolution_emails"
PLACEHOLDERS = (
    "customer_name",
    "ticket_id",
    "subject",
    "rate_good",
    "rate_okay",
    "rate_bad",
    "link_days",
)
RATING_PLACEHOLDERS = ("{rate_good}", "{rate_okay}", "{rate_bad}")


DEFAULT_TEMPLATES = {
    "en": MailTemplate(
        "Resolved: {subject}",
        "Dear {customer_name},\n\n"
        'your request "{subject}" (ticket {ticket_id}) has been resolved.\n\n'
        "How satisfied are you with our help? One click is enough, no login needed:\n\n"
        "  Good: {rate_good}\n"
        "  Okay: {rate_okay}\n"
        "  Bad:  {rate_bad}\n\n"
        "The links work for {link_days} days. If anything is still open, simply reply to this "
        "mail and the ticket reopens.",
    ),
    "zh": MailTemplate(
        "已解决：{subject}",
        "{customer_name}，您好：\n\n"
        "您的请求“{subject}”（工单 {ticket_id}）已处理完毕。\n\n"
        "您对我们的服务满意吗？点击一下即可评价，无需登录：\n\n"
        "  满意：{rate_good}\n"
        "  一般：{rate_okay}\n"
        "  不满意：{rate_bad}\n\n"
        "链接在 {link_days} 天内有效。如仍有问题，请直接回复本邮件，工单将重新打开。",
    ),
}


@dataclass(frozen=True)
class ResolutionSettings:
    """Admin-set (Admin > Acknowledgements): on or off per mailbox, and the two texts."""

    domain_mail: bool = True  # tickets without a mailbox (accepted by domain, voicemail)
    mailboxes_off: frozenset[int] = frozenset()
    templates: dict[str, MailTemplate] = field(default_factory=lambda: dict(DEFAULT_TEMPLATES))

    def sends_for(self, mailbox_id: int | None) -> bool:
        return self.domain_mail if mailbox_id is None else mailbox_id not in self.mailboxes_off


def load_resolution_settings(session: Session) -> ResolutionSettings:
    value = app_setting(session, SETTING_KEY)
    off = frozenset(int(i) for i in value.get("mailboxes_off") or [] if str(i).isdigit())
    templates = load_templates(value.get("templates"), DEFAULT_TEMPLATES)
    return ResolutionSettings(bool(value.get("domain_mail", True)), off, templates)


def save_resolution_settings(session: Session, settings: ResolutionSettings) -> None:
    check_templates(settings.templates)
    for language, template in settings.templates.items():
        if not any(p in template.body for p in RATING_PLACEHOLDERS):
            # Without a link the customer cannot rate: the mail's reason to exist.
            raise RejectedError(
                "the {language} resolution email needs a rating link ({placeholders})",
                language=language,
                placeholders=", ".join(RATING_PLACEHOLDERS),
            )
    value = {
        "domain_mail": settings.domain_mail,
        "mailboxes_off": sorted(settings.mailboxes_off),
        "templates": stored_templates(settings.templates),
    }
    save_app_setting(session, SETTING_KEY, value)


def _last_customer_message(session: Session, ticket: Ticket) -> Message | None:
    """The customer's latest mail on the ticket: the resolution email answers it."""
    for message in session.scalars(
        select(Message)
        .where(Message.ticket_id == ticket.id, Message.direction == Direction.INBOUND)
        .order_by(Message.received_at.desc(), Message.id.desc())
        .limit(20)
    ):
        if not NOT_ACKNOWLEDGED.intersection(message.flags or ()):
            return message
    return None


def _recipient(runtime: Runtime, ticket: Ticket, parent: Message | None) -> Address | None:
    if ticket.channel is Channel.VOICEMAIL:
        # A voicemail's mail comes from the phone system: only a known customer address will do.
        customer = ticket.customer
        return Address(customer.name or "", customer.email) if customer and customer.email else None
    try:
        return customer_address(runtime, ticket, parent)
    except RejectedError:
        return None


def _already_sent(session: Session, ticket: Ticket) -> bool:
    """A resolution email queued since the ticket was (last) resolved: this resolution's."""
    if ticket.resolved_at is None:
        return False
    found = session.scalar(
        select(Delivery.message_id)
        .join(Message, Message.id == Delivery.message_id)
        .where(
            Message.ticket_id == ticket.id,
            Delivery.kind == OutboundKind.RESOLUTION,
            Delivery.created_at >= ticket.resolved_at,
        )
        .limit(1)
    )
    return found is not None


def why_not_send(
    runtime: Runtime, session: Session, ticket: Ticket, parent: Message | None
) -> str | Address:
    """The address to write to, or the reason not to (logged)."""
    if not runtime.settings.outbound_smtp_url:
        return "no outbound relay configured"
    if ticket.automatic:
        return "an automatic ticket (auto-replies or bounces only)"
    if ticket.merged_into_id is not None:
        return f"merged into ticket {ticket.merged_into_id}"
    if not load_resolution_settings(session).sends_for(ticket.mailbox_id):
        return "resolution emails are switched off for this mailbox"
    if existing_rating(session, ticket.id) is not None:
        return "the ticket is already rated"
    if _already_sent(session, ticket):
        return "already sent for this resolution"
    recipient = _recipient(runtime, ticket, parent)
    if recipient is None:
        return "no email address to write to"
    if is_noreply(recipient.email):
        return f"{recipient.email} is a no-reply address"
    if is_our_address(session, runtime.settings, recipient.email):
        return f"{recipient.email} is one of our own addresses"
    return recipient


def _language(ticket: Ticket) -> str:
    return "zh" if (ticket.language or "").startswith("zh") else "en"


def queue_resolution_email(
    runtime: Runtime, session: Session, ticket: Ticket, by: Actor
) -> Message | None:
    """Queue the resolved ticket's email with its rating links (sent once ``session`` commits)."""
    if not runtime.settings.outbound_smtp_url:
        log.debug("ticket %s: no resolution email: no outbound relay configured", ticket.id)
        return None
    session.flush()
    parent = _last_customer_message(session, ticket)
    verdict = why_not_send(runtime, session, ticket, parent)
    if isinstance(verdict, str):
        log.info("ticket %s: no resolution email: %s", ticket.id, verdict)
        return None
    try:
        sender = reply_sender(runtime.settings, ticket, parent)
    except RejectedError as exc:
        log.info("ticket %s: no resolution email: %s", ticket.id, exc)
        return None
    language = _language(ticket)
    template = load_resolution_settings(session).templates[language]
    links = rating_links_for(runtime.settings, ticket.id)
    values = {
        "customer_name": verdict.name or UNKNOWN_CUSTOMER[language],
        "ticket_id": str(ticket.id),
        "subject": ticket.subject or "",
        "rate_good": links["good"],
        "rate_okay": links["okay"],
        "rate_bad": links["bad"],
        "link_days": str(RATING_LINK_DAYS),
    }
    mail = automatic_mail(
        sender=sender,
        to=verdict,
        template=template,
        values=values,
        ticket_id=ticket.id,
        answers=parent.message_id_header if parent is not None else None,
        date=utcnow(),
        # Sent because of an event, not by a person writing (RFC 3834).
        auto_submitted="auto-generated",
    )
    try:
        message = queue_mail(runtime, session, mail, kind=OutboundKind.RESOLUTION, ticket=ticket)
    except RejectedError as exc:  # refused before anything was written: the resolution stands
        log.warning("ticket %s: no resolution email: %s", ticket.id, exc)
        return None
    record_event(session, ticket, EventKind.RESOLUTION_EMAIL, by, field="to", new=verdict.email)
    log.info("ticket %s: resolution email queued to %s", ticket.id, verdict.email)
    return message


def resolution_email_on_resolve(session: Session, ticket: Ticket, by: Actor) -> Message | None:
    """The hook ``update_ticket`` calls when a ticket becomes resolved (the process's runtime)."""
    return queue_resolution_email(runtime_module.current(), session, ticket, by)
