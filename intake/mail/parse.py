"""parse_email: raw RFC 822 bytes to a ParsedEmail. Never raises on any input.

Structure comes from the stdlib parser with the compat32 policy: unlike ``policy.default`` it does
not build rich header objects, so it neither raises on malformed headers nor spends time on them.
Decoding (charsets, RFC 2047/2231, 8-bit headers) is done by our own forgiving helpers instead.
"""

from __future__ import annotations

import hashlib
import logging
import re
from email.message import Message
from email.parser import BytesParser

from intake.domain import MessageFlag
from intake.mail.autoreply import classify_automatic
from intake.mail.charset import decode_guess
from intake.mail.headers import (
    RAW_POLICY,
    decode_header_value,
    parse_addresses,
    parse_date,
    parse_message_ids,
    unsurrogate,
)
from intake.mail.html import html_to_text
from intake.mail.model import Address, ParsedEmail
from intake.mail.parts import Collected, collect, content_type_of
from intake.mail.quotes import split_reply

log = logging.getLogger(__name__)

SYNTHETIC_DOMAIN = "intake.invalid"
_MESSAGE_ID_LINE = re.compile(r"^[ \t>]*Message-ID\s*:\s*<([^<>\s]+)>", re.IGNORECASE | re.M)
_NEWLINES = re.compile(r"\r\n?")
_OBSOLETE_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]+:", re.M)


def synthetic_message_id(raw: bytes) -> str:
    return f"{hashlib.sha256(raw).hexdigest()}@{SYNTHETIC_DOMAIN}"


def _message_id(message: Message, raw: bytes) -> tuple[str, bool]:
    try:
        values = message.get_all("message-id") or []
    except Exception:  # undecodable input still gets a stable id
        values = []
    for value in values:
        ids = parse_message_ids(str(value))
        if ids:
            return ids[0], False
    return synthetic_message_id(raw), True


def peek_message_id(raw: bytes) -> str:
    """The Message-ID (without <>) from the headers alone, or the synthetic sha256 id."""
    raw = bytes(raw)
    try:
        # Only the header block: the stdlib parser holds a decoded copy of whatever it is given,
        # and this runs in the SMTP path (a 24 MB body cost 160 MB before).
        headers = _read_message(header_block(raw), headers_only=True)
    except Exception:  # the raw bytes are kept by the caller; log and degrade
        return synthetic_message_id(raw)
    return _message_id(headers, raw)[0]


def header_block(raw: bytes) -> bytes:
    """The bytes up to and including the first empty line (all of ``raw`` when there is none)."""
    ends = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := raw.find(sep)) >= 0]
    if not ends:
        return raw
    index, length = min(ends)
    return raw[: index + length]


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse one message. On total failure: flags {UNPARSEABLE}, text = best-effort decode."""
    raw = bytes(raw)
    try:
        return _parse(raw)
    except RecursionError:
        # Pathological MIME nesting overflows the stdlib parser; headers and body text still help.
        log.warning(
            "MIME structure too deep (%d bytes); reading headers and raw body only", len(raw)
        )
    except Exception:  # last line of defence
        log.exception("mail could not be parsed (%d bytes); reading headers only", len(raw))
    try:
        return _parse(raw, headers_only=True)
    except Exception:
        log.exception(
            "mail could not be parsed at all (%d bytes); keeping it as unparseable", len(raw)
        )
        return _unparseable(raw)


def _unparseable(raw: bytes) -> ParsedEmail:
    text = _clean_text(decode_guess(raw))
    return ParsedEmail(
        message_id=synthetic_message_id(raw),
        message_id_synthetic=True,
        in_reply_to=(),
        references=(),
        subject="",
        from_addr=None,
        reply_to=None,
        to=(),
        cc=(),
        date=None,
        text=text,
        new_text=text,
        html=None,
        attachments=(),
        flags=frozenset({MessageFlag.UNPARSEABLE}),
        auto_reason=None,
        bounced_message_ids=(),
        headers=(),
        defects=("message could not be parsed",),
    )


def _clean_text(text: str) -> str:
    # NUL cannot be stored in PostgreSQL text columns and is never meaningful in mail text.
    return _NEWLINES.sub("\n", text).replace("\x00", "")


def _charset_hints(message: Message) -> tuple[str, ...]:
    try:
        found = [c for c in message.get_charsets() if c]
    except Exception:
        return ()
    return tuple(dict.fromkeys(str(c) for c in found if str(c).lower() != "us-ascii"))


def _get_all(message: Message, name: str) -> list[str]:
    try:
        return [str(v) for v in (message.get_all(name) or [])]
    except Exception:
        return []


def _first_address(message: Message, name: str, hints: tuple[str, ...]) -> Address | None:
    for address in parse_addresses(_get_all(message, name), hints):
        if address.email or address.name:
            return address
    return None


def _with_obsolete_header_syntax_fixed(raw: bytes) -> bytes:
    """RFC 5322 obs-syntax allows "Subject :" (space before colon); the stdlib parser does not."""
    end = re.search(rb"\r?\n\r?\n|\r\r", raw)
    head, body = (raw[: end.start()], raw[end.start() :]) if end else (raw, b"")
    return _OBSOLETE_FIELD.sub(rb"\1:", head) + body


def _read_message(raw: bytes, headers_only: bool) -> Message:
    """The stdlib parse, retried with obsolete header syntax repaired when it found no header.

    peek_message_id and parse_email both read through here so that they agree on the id."""
    message = BytesParser(policy=RAW_POLICY).parsebytes(raw, headersonly=headers_only)
    if not message.keys() and _OBSOLETE_FIELD.match(raw):
        fixed = BytesParser(policy=RAW_POLICY).parsebytes(
            _with_obsolete_header_syntax_fixed(raw), headersonly=headers_only
        )
        if fixed.keys():
            return fixed
    return message


def _parse(raw: bytes, headers_only: bool = False) -> ParsedEmail:
    message = _read_message(raw, headers_only)
    hints = _charset_hints(message)
    headers = tuple(
        (unsurrogate(str(name)).strip(), decode_header_value(value, hints))
        for name, value in message.items()
    )
    message_id, synthetic = _message_id(message, raw)
    subject_values = _get_all(message, "subject")
    subject = decode_header_value(subject_values[0], hints) if subject_values else ""
    subject = "".join(ch if ch.isprintable() else " " for ch in subject).strip()
    from_addr = _first_address(message, "from", hints)
    to = parse_addresses(_get_all(message, "to"), hints)
    cc = parse_addresses(_get_all(message, "cc"), hints)
    date_values = _get_all(message, "date")

    collected = collect(message)
    if headers_only:
        collected.defects.insert(0, "MIME structure could not be parsed; body kept as raw text")
    text = _clean_text("\n\n".join(t.strip("\r\n") for t in collected.texts if t.strip()))
    html = "\n".join(collected.htmls) if collected.htmls else None
    flags: set[MessageFlag] = set()
    if not text.strip() and html:
        text = _clean_text(html_to_text(html))
        flags.add(MessageFlag.HTML_ONLY)
    html = html.replace("\x00", "") if html is not None else None
    new_text = split_reply(text)[0] or text

    if not headers:
        flags.add(MessageFlag.UNPARSEABLE)
    if collected.defects:
        flags.add(MessageFlag.DEFECTS)
    return_paths = _get_all(message, "return-path")
    content_types = _get_all(message, "content-type")
    auto_flags, auto_reason = classify_automatic(
        headers,
        unsurrogate(content_types[0]) if content_types else content_type_of(message),
        from_addr,
        unsurrogate(return_paths[0]) if return_paths else None,
    )
    flags |= auto_flags
    bounced: tuple[str, ...] = ()
    if MessageFlag.BOUNCE in flags:
        bounced = _bounced_ids(collected, text, message_id)

    return ParsedEmail(
        message_id=message_id,
        message_id_synthetic=synthetic,
        in_reply_to=parse_message_ids(next(iter(_get_all(message, "in-reply-to")), None)),
        references=parse_message_ids(" ".join(_get_all(message, "references"))),
        subject=subject,
        from_addr=from_addr,
        reply_to=_first_address(message, "reply-to", hints),
        to=to,
        cc=cc,
        date=parse_date(date_values[0]) if date_values else None,
        text=text,
        new_text=new_text,
        html=html,
        attachments=tuple(collected.attachments),
        flags=frozenset(flags),
        auto_reason=auto_reason,
        bounced_message_ids=bounced,
        headers=headers,
        defects=tuple(collected.defects),
        text_charset=collected.text_charsets[0] if collected.text_charsets else None,
    )


def _bounced_ids(collected: Collected, text: str, own_id: str) -> tuple[str, ...]:
    """Message-IDs of the original mail a bounce reports on, best evidence first."""
    found: dict[str, None] = {}
    for returned in collected.returned_headers:
        for value in _get_all(returned, "message-id"):
            for one in parse_message_ids(value)[:1]:
                found.setdefault(one, None)
    bodies = [text]
    for attachment in collected.attachments:
        if attachment.content_type.startswith(("text/", "message/")):
            bodies.append(attachment.data[:200_000].decode("utf-8", errors="replace"))
    for body in bodies:
        for one in _MESSAGE_ID_LINE.findall(body):
            found.setdefault(one, None)
    found.pop(own_id, None)
    return tuple(found)
