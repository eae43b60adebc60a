"""Pure email parsing: raw RFC 822 bytes in, plain dataclasses out.

Nothing here touches the database, the web layer, queues or the network.
"""

from intake.domain import MessageFlag
from intake.mail.model import Address, ParsedAttachment, ParsedEmail
from intake.mail.parse import parse_email, peek_message_id

__all__ = [
    "Address",
    "MessageFlag",
    "ParsedAttachment",
    "ParsedEmail",
    "parse_email",
    "peek_message_id",
]
