"""Values the mail parser hands to the rest of the gateway: plain, frozen, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from intake.domain import MessageFlag


@dataclass(frozen=True)
class Address:
    """One mailbox. ``email`` keeps the local part as written and lower-cases the domain."""

    name: str
    email: str


@dataclass(frozen=True)
class ParsedAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None
    inline: bool


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str
    message_id_synthetic: bool
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    subject: str
    from_addr: Address | None
    reply_to: Address | None
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    date: datetime | None
    text: str
    new_text: str
    html: str | None
    attachments: tuple[ParsedAttachment, ...]
    flags: frozenset[MessageFlag]
    auto_reason: str | None
    bounced_message_ids: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    defects: tuple[str, ...]
    # The charset the main text body was actually decoded with, for diagnostics.
    text_charset: str | None = None

    def header(self, name: str) -> str | None:
        """First header called ``name`` (case-insensitive), or None."""
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None
