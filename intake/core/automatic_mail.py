"""What the acknowledgement and the resolution email share: mail the gateway writes by itself.

Both have an admin-edited subject and text per language, stored as one ``app_settings`` value,
and both answer the customer's mail on the ticket with ``Auto-Submitted`` set (RFC 3834) and
``X-Auto-Response-Suppress`` (Exchange, Outlook), so no out-of-office answer comes back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from intake.core.canned import fill_placeholders
from intake.errors import RejectedError
from intake.mail.compose import OutgoingMail, make_message_id, tagged_subject
from intake.mail.model import Address
from intake.mail.parse import SYNTHETIC_DOMAIN

LANGUAGES = ("en", "zh")
MAX_SUBJECT = 300
MAX_BODY = 20_000


@dataclass(frozen=True)
class MailTemplate:
    subject: str
    body: str


def load_templates(stored: Any, defaults: Mapping[str, MailTemplate]) -> dict[str, MailTemplate]:
    """The stored texts over the defaults; an empty stored field keeps the default."""
    templates = dict(defaults)
    for language, text in (stored or {}).items():
        if language in LANGUAGES and isinstance(text, dict):
            templates[language] = MailTemplate(
                str(text.get("subject") or defaults[language].subject),
                str(text.get("body") or defaults[language].body),
            )
    return templates


def check_templates(templates: Mapping[str, MailTemplate]) -> None:
    for language, template in templates.items():
        if language not in LANGUAGES:
            raise RejectedError("no text for the language {language!r}", language=language)
        if not template.subject.strip() or not template.body.strip():
            raise RejectedError("the {language} text needs a subject and a body", language=language)
        if len(template.subject) > MAX_SUBJECT or len(template.body) > MAX_BODY:
            raise RejectedError("the {language} text is too long", language=language)


def stored_templates(templates: Mapping[str, MailTemplate]) -> dict[str, dict[str, str]]:
    return {k: {"subject": t.subject, "body": t.body} for k, t in templates.items()}


def automatic_mail(
    *,
    sender: Address,
    to: Address,
    template: MailTemplate,
    values: Mapping[str, str],
    ticket_id: int,
    answers: str | None,
    date: datetime,
    auto_submitted: str,
) -> OutgoingMail:
    """The filled-in mail, threaded under ``answers`` (the customer's Message-ID)."""
    if answers and answers.endswith("@" + SYNTHETIC_DOMAIN):
        answers = None  # an id we made up for a mail without one: nobody else knows it
    return OutgoingMail(
        sender=sender,
        to=(to,),
        subject=tagged_subject(fill_placeholders(template.subject, values), ticket_id),
        text=fill_placeholders(template.body, values),
        message_id=make_message_id(sender.email),
        date=date,
        in_reply_to=answers,
        references=(answers,) if answers else (),
        auto_submitted=auto_submitted,
        extra_headers=(("X-Auto-Response-Suppress", "All"),),
    )
