"""What makes two deliveries "the same message": a hash of the content without transit noise.

An MTA that retries, or delivers one message over two paths, may send bytes that differ only in
line endings and in the trace fields each hop prepends (``Received``, ``Return-Path``...), or the
receiving side's verdicts (``Authentication-Results``, ``X-Spam-*``). Those are the same message.
Any other difference, in the body or in a header the author's side wrote, is different content.
"""

from __future__ import annotations

import hashlib
import re

# Fields added on the way or on arrival (RFC 5321 trace fields, RFC 8601/8617 results and seals,
# common delivery and filter stamps); compared lower-case.
TRANSIT_FIELDS = frozenset(
    {
        "received",
        "return-path",
        "delivered-to",
        "x-original-to",
        "envelope-to",
        "x-envelope-from",
        "x-envelope-to",
        "x-received",
        "received-spf",
        "authentication-results",
        "arc-seal",
        "arc-message-signature",
        "arc-authentication-results",
    }
)
TRANSIT_PREFIXES = ("x-spam-", "x-virus-")

_LINE_END = re.compile(rb"\r\n|\r")


def content_fingerprint(raw: bytes) -> str:
    """sha256 (hex) of ``raw`` with line endings unified and transit header fields left out."""
    text = _LINE_END.sub(b"\n", bytes(raw))
    if text.startswith(b"\n"):
        head, body = b"", text[1:]
    else:
        head, separator, body = text.partition(b"\n\n")
        if not separator:
            body = b""
    digest = hashlib.sha256()
    keep = False
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            # A folded continuation belongs to the field above it.
            if keep:
                digest.update(line + b"\n")
            continue
        name = line.split(b":", 1)[0].strip().lower().decode("ascii", errors="replace")
        keep = name not in TRANSIT_FIELDS and not name.startswith(TRANSIT_PREFIXES)
        if keep:
            digest.update(line + b"\n")
    digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()
