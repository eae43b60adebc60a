"""Walking a MIME tree: body text and HTML, attachments with safe decoded filenames.

Works on compat32 ``Message`` objects and guards every access, because broken mail raises from
surprising places (payload decoding, parameter parsing, regenerating nested messages).
"""

from __future__ import annotations

import logging
import mimetypes
import re
import unicodedata
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from email.utils import collapse_rfc2231_value

from intake.mail.charset import decode_bytes
from intake.mail.headers import RAW_POLICY, decode_words, unfold, unsurrogate
from intake.mail.model import ParsedAttachment

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\/]+')
_MAX_NAME = 200
_MAX_DEPTH = 40
_EXTENSIONS = {
    "message/rfc822": ".eml",
    "message/global": ".eml",
    "message/delivery-status": ".txt",
    "message/global-delivery-status": ".txt",
    "message/disposition-notification": ".txt",
    "message/feedback-report": ".txt",
    "text/rfc822-headers": ".txt",
    "text/plain": ".txt",
    "text/html": ".html",
}


@dataclass
class Collected:
    texts: list[str] = field(default_factory=list)
    text_charsets: list[str] = field(default_factory=list)
    htmls: list[str] = field(default_factory=list)
    attachments: list[ParsedAttachment] = field(default_factory=list)
    # Headers of messages returned inside bounces (message/rfc822, text/rfc822-headers).
    returned_headers: list[Message] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)


def safe_filename(name: str, content_type: str, index: int) -> str:
    """A filename that is safe on any filesystem and in a Content-Disposition header."""
    name = unicodedata.normalize("NFC", name)
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" ._")
    if len(name) > _MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 16:
            name = stem[: _MAX_NAME - len(suffix) - 1] + "." + suffix
        else:
            name = name[:_MAX_NAME]
    if name:
        return name
    guessed = _EXTENSIONS.get(content_type) or mimetypes.guess_extension(content_type, strict=False)
    return f"attachment-{index}{guessed or '.bin'}"


def _param(part: Message, name: str, header: str) -> str | None:
    try:
        value = part.get_param(name, header=header)
    except Exception:  # malformed parameter lists
        return None
    if value is None:
        return None
    try:
        text = collapse_rfc2231_value(value, errors="replace")
    except Exception:  # unknown RFC 2231 charsets and odd tuples
        text = str(value[2] if isinstance(value, tuple) else value)
    return decode_words(unfold(text))


def filename_of(part: Message) -> str | None:
    return _param(part, "filename", "content-disposition") or _param(part, "name", "content-type")


def content_type_of(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # undecodable transfer encoding: keep the raw payload
        return "application/octet-stream"


def disposition_of(part: Message) -> str:
    value = part.get("content-disposition")
    if not value:
        return ""
    return str(value).split(";", 1)[0].strip().lower()


def payload_bytes(part: Message) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # regenerating broken nested mail can fail; use its text
        data = None
    if isinstance(data, bytes):
        return data
    try:
        raw = part.get_payload()
    except Exception:
        return b""
    if isinstance(raw, str):
        return raw.encode("utf-8", errors="surrogateescape")
    return b""


def message_bytes(message: Message) -> bytes:
    try:
        return message.as_bytes(unixfrom=False)
    except Exception:
        try:
            return message.as_string().encode("utf-8", errors="surrogateescape")
        except Exception:
            return b""


def _decode_text(part: Message, data: bytes) -> tuple[str, str]:
    charset = _param(part, "charset", "content-type")
    return decode_bytes(data, charset)


def collect(root: Message) -> Collected:
    out = Collected()
    _walk(root, out, depth=0, in_alternative=False)
    return out


def _add_attachment(part: Message, out: Collected, data: bytes, ctype: str) -> None:
    index = len(out.attachments) + 1
    name = filename_of(part) or ""
    content_id = part.get("content-id")
    cid = unsurrogate(unfold(str(content_id))).strip().strip("<>").strip() if content_id else None
    inline = disposition_of(part) == "inline" or (
        bool(cid) and disposition_of(part) != "attachment"
    )
    out.attachments.append(
        ParsedAttachment(
            filename=safe_filename(name, ctype, index),
            content_type=ctype,
            data=data,
            content_id=cid or None,
            inline=inline,
        )
    )


def _walk(part: Message, out: Collected, depth: int, in_alternative: bool) -> None:
    for defect in getattr(part, "defects", []) or []:
        detail = str(defect).strip()
        out.defects.append(type(defect).__name__ + (f": {detail}" if detail else ""))
    if depth > _MAX_DEPTH:
        out.defects.append("MIME nesting too deep; deeper parts ignored")
        return
    ctype = content_type_of(part)
    maintype = ctype.split("/", 1)[0]
    if part.is_multipart():
        children = part.get_payload()
        if not isinstance(children, list):
            return
        if ctype in ("message/rfc822", "message/global"):
            for child in children:
                if isinstance(child, Message):
                    out.returned_headers.append(child)
                    _add_attachment(part, out, message_bytes(child), "message/rfc822")
            return
        if maintype == "message":
            # delivery-status and friends: header-like blocks, kept whole as one attachment.
            blocks = [message_bytes(c) for c in children if isinstance(c, Message)]
            _add_attachment(part, out, b"\n".join(blocks), ctype)
            return
        if ctype == "multipart/alternative":
            _walk_alternative([c for c in children if isinstance(c, Message)], out, depth)
            return
        for child in children:
            if isinstance(child, Message):
                _walk(child, out, depth + 1, in_alternative)
        return

    data = payload_bytes(part)
    disposition = disposition_of(part)
    has_name = filename_of(part) is not None
    is_body = disposition != "attachment" and not (has_name and disposition != "inline")
    if maintype == "multipart":
        # A multipart whose boundary was never found: its body is all we have, show it as text.
        ctype = "text/plain"
    if ctype == "text/rfc822-headers":
        _collect_header_text(data, out)
    if is_body and ctype == "text/plain":
        text, used = _decode_text(part, data)
        out.texts.append(text)
        out.text_charsets.append(used)
        return
    if is_body and ctype == "text/html":
        out.htmls.append(_decode_text(part, data)[0])
        return
    _add_attachment(part, out, data, ctype)


def _walk_alternative(children: list[Message], out: Collected, depth: int) -> None:
    """Keep the first plain-text rendering and the last (richest) HTML one."""
    sub = Collected()
    for child in children:
        if isinstance(child, Message):
            _walk(child, sub, depth + 1, in_alternative=True)
    if sub.texts:
        out.texts.append(sub.texts[0])
        out.text_charsets.append(sub.text_charsets[0])
    if sub.htmls:
        out.htmls.append(sub.htmls[-1])
    out.attachments.extend(sub.attachments)
    out.returned_headers.extend(sub.returned_headers)
    out.defects.extend(sub.defects)


def _collect_header_text(data: bytes, out: Collected) -> None:
    try:
        out.returned_headers.append(BytesHeaderParser(policy=RAW_POLICY).parsebytes(data))
    except Exception:
        log.debug("unparseable text/rfc822-headers part ignored")
