"""The admin's speech vocabulary: company and product names the recognizer should expect."""

from __future__ import annotations

from sqlalchemy.orm import Session

from intake.core.db.models import AppSetting

VOCABULARY_KEY = "speech_vocabulary"


def speech_vocabulary(session: Session) -> tuple[str, ...]:
    """The admin's terms for the recognizer, in their order."""
    row = session.get(AppSetting, VOCABULARY_KEY)
    terms = row.value.get("terms", []) if row is not None else []
    return tuple(str(term) for term in terms if str(term).strip())
