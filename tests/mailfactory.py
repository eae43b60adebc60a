"""Build realistic raw messages for tests."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid


def make_mail(
    *,
    sender: str = "Alice Customer <alice@customer.org>",
    to: str = "support@example.com",
    subject: str = "Order 1234 has not arrived",
    body: str = "Hello,\n\nmy order 1234 has not arrived yet. Can you check?\n\nAlice\n",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime(2026, 11, 20, 9, 30, tzinfo=UTC))
    message["Message-ID"] = message_id or make_msgid(domain="customer.org")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes(policy=SMTP)
