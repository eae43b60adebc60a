"""compose: the RFC 822 bytes of a mail the gateway sends (replies, acknowledgements, notices).

Pure: values in, bytes out. Headers are RFC 2047-encoded where they are not ASCII (a Chinese
subject or display name), the body is UTF-8 in 7bit, quoted-printable or base64, whichever the
standard library finds shortest, lines end in CRLF, and no header line is longer than 78
characters. Replies carry ``In-Reply-To`` and ``References`` so the customer's mail program
threads them, and our own ``Message-ID`` so the customer's answer threads back to the ticket.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import Address as HeaderAddress
from email.message import EmailMessage
from email.utils import format_datetime

from intake.errors import RejectedError
from intake.mail.model import Address
from intake.mail.threading import extract_ticket_tag

# Header lines folded at 78 characters, CRLF line ends, 7-bit clean (RFC 2047 headers, base64 or
# quoted-printable bodies): no relay has to support 8BITMIME.
WIRE = policy.SMTP.clone(max_line_length=78, cte_type="7bit")
# A References header keeps the thread's root and its latest ids: long threads would otherwise
# grow the header without bound (RFC 5322 3.6.4 allows trimming the middle).
MAX_REFERENCES = 20
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_LINE_ENDS = re.compile(r"\r\n?")
_ADDRESS = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$"
)
_REPLY_PREFIX = re.compile(r"^\s*(?:re|aw|sv|antw|回复|回覆|答复)\s*[:：]", re.IGNORECASE)


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class OutgoingMail:
    sender: Address
    to: tuple[Address, ...]
    subject: str
    text: str
    message_id: str  # without angle brackets, as stored in ``Message.message_id_header``
    date: datetime  # timezone-aware
    cc: tuple[Address, ...] = ()
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    # RFC 3834: "auto-replied" on acknowledgements, so well-behaved programs never answer them.
    auto_submitted: str | None = None
    attachments: tuple[OutgoingAttachment, ...] = ()
    extra_headers: tuple[tuple[str, str], ...] = ()


def checked_address(value: str) -> str:
    """An address fit for an envelope and a header, lower-cased domain; RejectedError if not."""
    address = value.strip().strip("<>").strip()
    if not _ADDRESS.match(address) or ".." in address or len(address) > 254:
        raise RejectedError("not an email address we can send to: {value!r}", value=value)
    local, _, domain = address.rpartition("@")
    if "." not in domain:
        raise RejectedError("not an email address we can send to: {value!r}", value=value)
    return f"{local}@{domain.lower()}"


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()


def make_message_id(sender: str, unique: str | None = None) -> str:
    """A new Message-ID in the domain of the From address (RFC 5322 3.6.4), without brackets."""
    token = unique or secrets.token_hex(12)
    return f"{token}@{domain_of(checked_address(sender))}"


def one_line(value: str) -> str:
    """A header value on one line: control characters (CR, LF: header injection) become spaces."""
    return re.sub(r"\s+", " ", _CONTROL.sub(" ", value.replace("\n", " "))).strip()


def tagged_subject(subject: str, ticket_id: int) -> str:
    """The subject with ``[#<id>]`` in it: kept where it is, or appended."""
    subject = one_line(subject)
    if extract_ticket_tag(subject) == ticket_id:
        return subject
    return f"{subject} [#{ticket_id}]".strip()


def reply_subject(subject: str, ticket_id: int) -> str:
    """``Re: <subject> [#<id>]``, without doubling an existing ``Re:`` or tag."""
    tagged = tagged_subject(subject, ticket_id)
    return tagged if _REPLY_PREFIX.match(tagged) else f"Re: {tagged}"


def thread_references(parent_id: str | None, parent_references: Sequence[str]) -> tuple[str, ...]:
    """References of a reply: the parent's References, then the parent (RFC 5322 3.6.4)."""
    ids = [i for i in dict.fromkeys([*parent_references, *([parent_id] if parent_id else [])]) if i]
    if len(ids) > MAX_REFERENCES:
        ids = [ids[0], *ids[-(MAX_REFERENCES - 1) :]]
    return tuple(ids)


def plain_text(text: str) -> str:
    """Body text with Unix line ends, no control characters but tab, ending in one newline."""
    text = _LINE_ENDS.sub("\n", text)
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    return text.rstrip() + "\n"


def _header_address(address: Address) -> HeaderAddress:
    email = checked_address(address.email)
    local, _, domain = email.rpartition("@")
    return HeaderAddress(display_name=one_line(address.name), username=local, domain=domain)


def compose(mail: OutgoingMail) -> bytes:
    """The message as it goes to the relay (CRLF line ends). RejectedError for bad addresses."""
    if not mail.to:
        raise RejectedError("a mail needs at least one recipient")
    if mail.date.tzinfo is None:
        raise ValueError("the Date of a mail must be timezone-aware")
    message = EmailMessage(policy=WIRE)
    message["From"] = _header_address(mail.sender)
    message["To"] = [_header_address(a) for a in mail.to]
    if mail.cc:
        message["Cc"] = [_header_address(a) for a in mail.cc]
    message["Subject"] = one_line(mail.subject)
    message["Date"] = format_datetime(mail.date)
    message["Message-ID"] = f"<{mail.message_id}>"
    if mail.in_reply_to:
        message["In-Reply-To"] = f"<{mail.in_reply_to}>"
    if mail.references:
        message["References"] = " ".join(f"<{i}>" for i in mail.references)
    if mail.auto_submitted:
        message["Auto-Submitted"] = mail.auto_submitted
    for name, value in mail.extra_headers:
        message[name] = one_line(value)
    message["MIME-Version"] = "1.0"
    message.set_content(plain_text(mail.text), subtype="plain", charset="utf-8")
    for attachment in mail.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        if not maintype or not subtype or "\n" in attachment.content_type:
            maintype, subtype = "application", "octet-stream"
        message.add_attachment(
            attachment.data,
            maintype=maintype.strip().lower(),
            subtype=subtype.split(";")[0].strip().lower(),
            filename=one_line(attachment.filename) or "attachment",
        )
    return message.as_bytes(policy=WIRE)
