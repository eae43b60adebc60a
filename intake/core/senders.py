"""Our own addresses: which one a mail to a customer comes from, and which ones are ours at all.

A reply comes from the address of the ticket's mailbox (the one the customer wrote to, when the
mailbox has several), else from ``INTAKE_REPLY_FROM``, else from the address the customer wrote
to when it is in an accepted domain. Our own addresses never get an acknowledgement: an answer
to ourselves would come back in as a new ticket.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.core.db.models import Mailbox, Message, Ticket
from intake.core.settings import Settings
from intake.errors import RejectedError
from intake.mail.compose import checked_address, domain_of
from intake.mail.model import Address


def _written_to(message: Message | None) -> list[str]:
    if message is None:
        return []
    found = [*message.envelope_to, *message.to_addrs, *message.cc_addrs]
    return [a.strip().lower() for a in found if isinstance(a, str) and "@" in a]


def _first_valid(addresses: Iterable[str]) -> str | None:
    for address in addresses:
        try:
            return checked_address(address)
        except RejectedError:
            continue
    return None


def reply_sender(settings: Settings, ticket: Ticket, parent: Message | None) -> Address:
    """The From of a mail to this ticket's customer; RejectedError when none can be named."""
    written_to = _written_to(parent)
    mailbox = ticket.mailbox
    if mailbox is not None and mailbox.addresses:
        own = [a.lower() for a in mailbox.addresses]
        chosen = _first_valid([a for a in written_to if a in own] + own)
        if chosen:
            return Address("", chosen)
    if settings.reply_from:
        return Address("", checked_address(settings.reply_from))
    accepted = [a for a in written_to if _in_accepted_domain(settings, a)]
    chosen = _first_valid(accepted)
    if chosen:
        return Address("", chosen)
    raise RejectedError(
        "no address to send from: the ticket has no mailbox address; set INTAKE_REPLY_FROM"
    )


def notification_sender(settings: Settings, ticket: Ticket | None) -> Address:
    if settings.reply_from:
        return Address("", checked_address(settings.reply_from))
    if ticket is not None and ticket.mailbox is not None:
        chosen = _first_valid(ticket.mailbox.addresses or [])
        if chosen:
            return Address("", chosen)
    raise RejectedError("no address to send notices from: set INTAKE_REPLY_FROM")


def _in_accepted_domain(settings: Settings, address: str) -> bool:
    domains = settings.accept_domains
    return "*" in domains or domain_of(address) in domains


def is_our_address(session: Session, settings: Settings, address: str) -> bool:
    """A mailbox address, the reply-from address, or any address of an accepted domain."""
    address = address.strip().lower()
    if settings.reply_from and address == settings.reply_from.strip().lower():
        return True
    # "*" accepts every domain: then only the addresses we name are ours.
    if domain_of(address) in settings.accept_domains:
        return True
    for addresses in session.scalars(select(Mailbox.addresses)):
        if address in (a.lower() for a in addresses or []):
            return True
    return False
