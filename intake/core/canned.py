"""Canned responses: reply texts agents pick, with placeholders filled in for each ticket.

Placeholders are ``{customer_name}``, ``{ticket_id}`` and ``{agent_name}``; any other text in
braces is left as written, so a template can never fail to render.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.core.db.admin_models import CannedResponse
from intake.core.db.models import Ticket, User
from intake.errors import RejectedError

PLACEHOLDERS = ("customer_name", "ticket_id", "agent_name")
LANGUAGES = ("en", "zh")
MAX_TITLE = 200
MAX_BODY = 20_000
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
# Said to a customer whose name we do not know.
UNKNOWN_CUSTOMER = {"en": "customer", "zh": "客户"}


def fill_placeholders(text: str, values: Mapping[str, str]) -> str:
    """``{name}`` replaced by ``values[name]`` where known; everything else kept as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def agent_name(user: User | None) -> str:
    if user is None:
        return ""
    return user.name.strip() or user.email.partition("@")[0]


def placeholder_values(ticket: Ticket, user: User | None, language: str) -> dict[str, str]:
    name = ticket.customer.name.strip() if ticket.customer is not None else ""
    if not name:
        sender = next((m.from_name for m in ticket.messages if m.from_name), None)
        name = (sender or "").strip()
    return {
        "customer_name": name or UNKNOWN_CUSTOMER.get(language, UNKNOWN_CUSTOMER["en"]),
        "ticket_id": str(ticket.id),
        "agent_name": agent_name(user),
    }


@dataclass(frozen=True)
class FilledResponse:
    id: int
    title: str
    language: str
    text: str


def canned_responses(session: Session) -> list[CannedResponse]:
    return list(
        session.scalars(
            select(CannedResponse).order_by(
                CannedResponse.language, CannedResponse.position, CannedResponse.id
            )
        )
    )


def filled_responses(session: Session, ticket: Ticket, user: User | None) -> list[FilledResponse]:
    """Every canned response with this ticket's values in, the ticket's language first."""
    rows = canned_responses(session)
    language = (ticket.language or "en")[:2]
    rows.sort(key=lambda r: r.language != language)
    return [
        FilledResponse(
            r.id,
            r.title,
            r.language,
            fill_placeholders(r.body, placeholder_values(ticket, user, r.language)),
        )
        for r in rows
    ]


def _checked(title: str, language: str, body: str) -> tuple[str, str, str]:
    title, body = title.strip(), body.strip()
    if not title or len(title) > MAX_TITLE:
        raise RejectedError("a title has 1 to {limit} characters", limit=MAX_TITLE)
    if language not in LANGUAGES:
        raise RejectedError(
            "language must be one of {languages}, got {language!r}",
            languages=", ".join(LANGUAGES),
            language=language,
        )
    if not body or len(body) > MAX_BODY:
        raise RejectedError("a text has 1 to {limit} characters", limit=MAX_BODY)
    return title, language, body


def add_canned(session: Session, title: str, language: str, body: str) -> CannedResponse:
    title, language, body = _checked(title, language, body)
    position = (session.scalar(select(func.max(CannedResponse.position))) or 0) + 1
    row = CannedResponse(title=title, language=language, body=body, position=position)
    session.add(row)
    session.flush()
    return row


def update_canned(row: CannedResponse, title: str, language: str, body: str) -> None:
    row.title, row.language, row.body = _checked(title, language, body)
