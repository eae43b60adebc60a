"""Pure email parsing: raw RFC 822 bytes in, plain dataclasses out.

Nothing here touches the database, the web layer, queues or the network.
"""

from intake.mail.model import Address, MessageFlag, ParsedAttachment, ParsedEmail
from intake.mail.parse import parse_email, peek_message_id

__all__ = [
    "Address",
    "MessageFlag",
    "ParsedAttachment",
    "ParsedEmail",
    "parse_email",
    "peek_message_id",
]
