"""The customer's one-click rating page, reached from the signed link in the resolution email.

No login: the link's signature is the permission. Opening the link shows the chosen rating with
a comment box and one button; the rating is stored on that POST, not on the GET, so mail
scanners that open every link in a message cannot rate a ticket for the customer.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from intake.core.ratings import (
    MAX_COMMENT,
    RATINGS,
    RatingLinkError,
    RatingLinkGoneError,
    existing_rating,
    read_token,
    record_rating,
)
from web.context import db, get_runtime
from web.i18n import error_text

bp = Blueprint("ratings", __name__)


@bp.route("/rate/<token>", methods=["GET", "POST"])
def rate(token: str) -> tuple[str, int]:
    settings = get_runtime().settings
    try:
        wanted = read_token(settings, token)
        if existing_rating(db(), wanted.ticket_id) is not None:
            raise RatingLinkGoneError("This ticket has already been rated. Thank you!")
        if request.method == "POST":
            chosen = request.form.get("rating", wanted.rating)
            comment = request.form.get("comment", "")[:MAX_COMMENT]
            record_rating(db(), wanted, chosen, comment)
            return render_template("analytics_rating.html", state="thanks", rating=chosen), 200
    except RatingLinkError as exc:
        status = 410 if isinstance(exc, RatingLinkGoneError) else 400
        return render_template(
            "analytics_rating.html", state="refused", message=error_text(exc)
        ), status
    return (
        render_template(
            "analytics_rating.html",
            state="ask",
            rating=wanted.rating,
            ratings=RATINGS,
            ticket_id=wanted.ticket_id,
        ),
        200,
    )
