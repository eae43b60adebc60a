"""Customer satisfaction: one-click rating links in the resolution email, and storing the rating.

A link carries the ticket id and the rating, signed with a key derived from the installation's
secret (itsdangerous, HMAC-SHA256) and stamped with its time: no login is needed, nobody can make
a link for another ticket or rating, it expires after ``RATING_LINK_DAYS``, and a ticket takes
one rating (the first answer counts; the unique ticket id in ``ticket_ratings`` makes that hold
under concurrent clicks too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.core import runtime as runtime_module
from intake.core.db.analytics_models import TicketRating
from intake.core.db.base import utcnow
from intake.core.db.models import Ticket
from intake.core.secrets import derive_key
from intake.core.settings import Settings
from intake.errors import RejectedError

log = logging.getLogger(__name__)

RATINGS = ("good", "okay", "bad")
RATING_LINK_DAYS = 30
MAX_COMMENT = 2_000
_SALT = "ticket-rating"


class RatingLinkError(RejectedError):
    """A rating link that is forged, damaged, or for a ticket that no longer exists."""


class RatingLinkGoneError(RatingLinkError):
    """A genuine link that no longer works: expired, or its ticket is already rated."""


@dataclass(frozen=True)
class RatingRequest:
    ticket_id: int
    rating: str


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(derive_key(settings, "intake-rating-links"), salt=_SALT)


def _base_url(settings: Settings) -> str:
    if settings.base_url:
        return settings.base_url.rstrip("/")
    return f"http://{settings.web_host}:{settings.web_port}"


def rating_token(settings: Settings, ticket_id: int, rating: str) -> str:
    if rating not in RATINGS:
        raise ValueError(f"rating must be one of {', '.join(RATINGS)}")
    return str(_serializer(settings).dumps({"t": ticket_id, "r": rating}))


def rating_links_for(settings: Settings, ticket_id: int) -> dict[str, str]:
    """``{"good": url, "okay": url, "bad": url}``: absolute links for the resolution email."""
    base = _base_url(settings)
    return {
        rating: f"{base}/rate/{quote(rating_token(settings, ticket_id, rating))}"
        for rating in RATINGS
    }


def rating_links(ticket: Ticket, settings: Settings | None = None) -> dict[str, str]:
    """The resolution email's rating links for ``ticket`` (settings: the running gateway's)."""
    return rating_links_for(settings or runtime_module.current().settings, ticket.id)


def read_token(
    settings: Settings, token: str, max_age_days: int = RATING_LINK_DAYS
) -> RatingRequest:
    try:
        data = _serializer(settings).loads(token, max_age=max_age_days * 86_400)
    except SignatureExpired as exc:
        raise RatingLinkGoneError("This rating link has expired.") from exc
    except BadSignature as exc:
        raise RatingLinkError("This rating link is not valid.") from exc
    if not isinstance(data, dict) or data.get("r") not in RATINGS:
        raise RatingLinkError("This rating link is not valid.")
    ticket_id = data.get("t")
    if not isinstance(ticket_id, int):
        raise RatingLinkError("This rating link is not valid.")
    return RatingRequest(ticket_id, str(data["r"]))


def existing_rating(session: Session, ticket_id: int) -> TicketRating | None:
    return session.scalar(select(TicketRating).where(TicketRating.ticket_id == ticket_id))


def record_rating(
    session: Session,
    request: RatingRequest,
    rating: str | None = None,
    comment: str = "",
    at: datetime | None = None,
) -> TicketRating:
    """Store the ticket's rating (the link's, or the one the customer switched to on the page).

    Raises ``RatingLinkError`` when the ticket is gone or already rated. Commits.
    """
    chosen = rating or request.rating
    if chosen not in RATINGS:
        raise RatingLinkError("Choose good, okay or bad.")
    if session.get(Ticket, request.ticket_id) is None:
        raise RatingLinkError("This ticket no longer exists.")
    if existing_rating(session, request.ticket_id) is not None:
        raise RatingLinkGoneError("This ticket has already been rated. Thank you!")
    row = TicketRating(
        ticket_id=request.ticket_id,
        rating=chosen,
        comment=comment.strip()[:MAX_COMMENT],
        rated_at=at or utcnow(),
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError as exc:  # a second click that raced the first
        session.rollback()
        raise RatingLinkGoneError("This ticket has already been rated. Thank you!") from exc
    log.info("ticket %s rated %s", request.ticket_id, chosen)
    return row
