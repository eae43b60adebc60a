"""The declarative base of every model, its column types, and the rule every write follows.

``UTCDateTime`` keeps datetimes timezone-aware in UTC on every backend; ``EnumText`` stores a
domain enum of ``intake.domain`` as its plain string and reads it back as the enum, so adding a
value never needs a migration and the type checker sees ``Mapped[MessageState]``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from enum import StrEnum
from itertools import chain
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    DateTime,
    String,
    event,
    inspect,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class EnumText(TypeDecorator[E]):
    """A domain enum stored as its plain string value (a VARCHAR, no database enum type)."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[E], length: int = 20) -> None:
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value: E | str | None, dialect: Any) -> str | None:
        # Raises ValueError for a word that is not a member: no typo reaches the database.
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Any) -> E | None:
        return None if value is None else self.enum(value)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


@event.listens_for(Session, "before_flush")
def _fit_strings_to_their_columns(session: Session, _context: Any, _instances: Any) -> None:
    """Cut over-long strings to their column's length instead of failing the whole write.

    Such values come from outside (a 300-character display name, a SIP URI as caller number);
    PostgreSQL refuses them where SQLite would not, and the raw item keeps the full value.
    """
    for row in chain(session.new, session.dirty):
        for attribute in inspect(row).mapper.column_attrs:
            length = getattr(attribute.columns[0].type, "length", None)
            value = getattr(row, attribute.key)
            if length and isinstance(value, str) and len(value) > length:
                log.warning("%s.%s cut to %d characters", type(row).__name__, attribute.key, length)
                setattr(row, attribute.key, value[:length])
