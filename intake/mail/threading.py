"""Subject helpers for joining mail to tickets. Pure and cheap."""

from __future__ import annotations

import re

# Ticket ids are 32-bit integers; a longer number is an order number, not our tag.
_TICKET_TAG = re.compile(r"\[#(\d{1,9})\]")
_PREFIX = re.compile(
    r"^\s*(?:re|fw|fwd|aw|wg|sv|vs|antw|antwort|rif|r|tr|ref|odp|pd|enc|rv|res|vb|rép|réf"
    r"|回复|回覆|答复|答覆|转发|轉寄|轉發|转寄|返信|転送)"
    r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*",
    re.IGNORECASE,
)
_SPACE = re.compile(r"\s+")


def extract_ticket_tag(subject: str) -> int | None:
    """The ticket number of the first ``[#123]`` tag in the subject, if any."""
    match = _TICKET_TAG.search(subject or "")
    return int(match.group(1)) if match else None


def normalize_subject(subject: str) -> str:
    """Subject without reply/forward prefixes (any language, repeated) and ticket tags."""
    text = _TICKET_TAG.sub(" ", subject or "")
    text = _SPACE.sub(" ", text).strip()
    while True:
        stripped = _PREFIX.sub("", text, count=1)
        stripped = _TICKET_TAG.sub(" ", stripped).strip()
        if stripped == text:
            return text
        text = stripped
