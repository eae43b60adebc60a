"""The queue as the page shows it, and its live refresh: polling with an ETag.

``web/static/queue.js`` asks ``/queue/rows`` (with the page's own filter and cursor) every second,
sending the ETag of what it shows. The ETag is a digest of the newest ticket change (two index
lookups: highest ``updated_at``, highest id) and of the request, so an unchanged queue costs a
``304`` without reading a single ticket; a changed one answers the page's rows as HTML, which
the script swaps in, keeping the agent's ticked rows. New or changed tickets thus appear within
about a second, with no front-end build and no inline script.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, jsonify, render_template, request, url_for
from flask_babel import get_timezone
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from intake.core.db.models import Mailbox, Ticket, User
from intake.core.search_text import Snippet
from intake.errors import RejectedError
from web.auth import login_required
from web.context import db, get_runtime
from web.i18n import word
from web.queries import COUNT_CAP, QueuePage, capped_count, queue_page
from web.queue_filter import QueueFilter, Viewer
from web.serialize import tickets_json

bp = Blueprint("live", __name__)

PAGE_SIZE = 50


def snippet_markup(cut: Snippet) -> Markup:
    """The snippet's text escaped, then its matches wrapped in <mark>."""
    html = "".join(
        f"<mark>{escape(text)}</mark>" if matched else str(escape(text))
        for text, matched in cut.pieces
    )
    return Markup(("…" if cut.cut_before else "") + html + ("…" if cut.cut_after else ""))


def viewer() -> Viewer:
    user_id = current_user.id if current_user.is_authenticated else None
    is_admin = bool(current_user.is_authenticated and current_user.is_admin)
    return Viewer(user_id, get_runtime().settings, is_admin)


class _Once(dict[Any, str]):
    """Display text worked out once per distinct value on a page (``words[t.status]``): gettext
    and babel cost 10-20 µs a call, and a page of 50 rows would make some 250 such calls."""

    def __init__(self, compute: Callable[[Any], str]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: Any) -> str:
        value = self[key] = self._compute(key)
        return value


def _minutes_in_viewer_zone() -> Callable[[str | None], str]:
    """ISO 8601 text to "yyyy-MM-dd HH:mm" in the viewer's zone, as the ``local_time`` filter
    writes it (digits and separators only, so no locale data), with the zone looked up once."""
    zone = get_timezone()

    def shown(moment: str | None) -> str:
        if not moment:
            return ""
        return datetime.fromisoformat(moment).astimezone(zone).strftime("%Y-%m-%d %H:%M")

    return shown


def queue_rows(flt: QueueFilter, cursor: str | None) -> dict[str, Any]:
    """What the rows of a queue page need: tickets as JSON, snippets, paging, the count."""
    try:
        page = queue_page(db(), flt, viewer(), limit=PAGE_SIZE, cursor=cursor)
        error = None
    except RejectedError as exc:
        page, error = QueuePage([], None), str(exc)
    # A first page without a next one holds every match: its length is the count.
    whole = cursor is None and page.next_cursor is None and error is None
    count = len(page.tickets) if whole else capped_count(db(), flt, viewer())
    return {
        "tickets": tickets_json(db(), page.tickets),
        "snippets": {i: snippet_markup(s) for i, s in page.snippets.items()},
        "next_url": _page_url(flt, page.next_cursor) if page.next_cursor else None,
        "count_text": f"{COUNT_CAP:,}+" if count > COUNT_CAP else f"{count:,}",
        "cursor_error": error,
        "words": _Once(word),
        "times": _Once(_minutes_in_viewer_zone()),
    }


def _page_url(flt: QueueFilter, cursor: str) -> str:
    values: dict[str, Any] = {**flt.args(), "cursor": cursor}
    return url_for("views.queue", **values)


def queue_choices() -> dict[str, Any]:
    """Values for the filter and bulk-action menus."""
    agents = select(User.email).where(User.active.is_(True)).order_by(User.email)
    return {
        "agents": db().scalars(agents).all(),
        "mailboxes": db().execute(select(Mailbox.id, Mailbox.name).order_by(Mailbox.name)).all(),
    }


def queue_version() -> str:
    """Changes whenever a ticket is created or changed, or the request asks for other rows."""
    # Two scalar subqueries, not one SELECT of both maxima: SQLite answers a lone max() from
    # the index's last entry, but scans the whole table for two aggregates in one query.
    newest, highest = (
        db()
        .execute(
            select(
                select(func.max(Ticket.updated_at)).scalar_subquery(),
                select(func.max(Ticket.id)).scalar_subquery(),
            )
        )
        .one()
    )
    digest = hashlib.sha256()
    for part in (newest, highest, current_user.id, request.query_string):
        digest.update(repr(part).encode() + b"\0")
    return digest.hexdigest()[:32]


@bp.get("/queue/rows")
@login_required
def rows() -> Response:
    etag = queue_version()
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        flt = QueueFilter.from_args(request.args)
        context = queue_rows(flt, request.args.get("cursor") or None)
        response = jsonify(
            html=render_template("queue_rows.html", **context),
            count=context["count_text"],
            next_url=context["next_url"],
        )
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache, private"
    return response
