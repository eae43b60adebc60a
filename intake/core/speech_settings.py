"""What admins tell the recognizer: the names to expect, and the language each line speaks.

Both live in the database (``AppSetting``) so every transcription host reads the same values.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from intake.core.app_settings import app_setting
from intake.core.customers import normalize_phone
from intake.core.db.models import Message
from intake.errors import RejectedError

VOCABULARY_KEY = "speech_vocabulary"
LANGUAGES_KEY = "voicemail_languages"
# ISO 639-1, optionally with a region or script ("zh", "zh-CN", "en-GB").
LANGUAGE_CODE = re.compile(r"^[a-z]{2}(?:-[A-Za-z]{2,4})?$")


def speech_vocabulary(session: Session) -> tuple[str, ...]:
    """The admin's terms for the recognizer, in their order."""
    terms = app_setting(session, VOCABULARY_KEY).get("terms", [])
    return tuple(str(term) for term in terms if str(term).strip())


def line_languages(session: Session) -> dict[str, str]:
    """Called number (E.164) or mailbox address -> the language its callers speak."""
    return dict(app_setting(session, LANGUAGES_KEY).get("lines", {}))


def parse_line_languages(text: str) -> dict[str, str]:
    """``+15550009999 = zh`` or ``support@shop.example = en``, one per line. RejectedError."""
    lines: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        destination, sep, language = (part.strip() for part in raw.partition("="))
        if not sep or not destination or not LANGUAGE_CODE.match(language):
            raise RejectedError(
                "line {number}: write 'number or address = language code', "
                "e.g. '+15550009999 = zh' (got {line!r})",
                number=number,
                line=raw.strip(),
            )
        key = destination.lower() if "@" in destination else normalize_phone(destination)
        if key is None:
            raise RejectedError(
                "line {number}: {destination!r} is no phone number or address",
                number=number,
                destination=destination,
            )
        lines[key] = language
    return lines


def language_hint(session: Session, message: Message) -> str | None:
    """The language an admin set for the line or mailbox this voicemail came in on, if any."""
    languages = line_languages(session)
    if not languages:
        return None
    destinations = [*(message.envelope_to or []), *(message.to_addrs or [])]
    if message.mailbox is not None:
        destinations += list(message.mailbox.addresses or [])
    for destination in destinations:
        key = destination.lower() if "@" in destination else normalize_phone(destination)
        if key is not None and key in languages:
            return languages[key]
    return None
