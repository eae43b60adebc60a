"""Replies and internal notes, from the ticket page and the API, and retrying a failed send.

A reply is stored and queued in the request (answer ``202``: accepted, not yet sent); the
``send_message`` job hands it to the relay. The ticket page shows each outbound mail's state,
the relay's answer to a failure, and a retry button.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any

from flask import Blueprint, abort, flash, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from intake.core.canned import FilledResponse, filled_responses
from intake.core.db.models import Message, Ticket, User
from intake.core.outbox import retry_delivery
from intake.core.replies import (
    ReplyRequest,
    add_note,
    customer_address,
    last_customer_message,
    queue_reply,
)
from intake.core.senders import reply_sender
from intake.errors import IntakeError, RejectedError
from intake.mail.compose import OutgoingAttachment
from web.auth import login_required, token_required
from web.context import db, get_runtime
from web.form_input import clean, form_text
from web.i18n import error_text
from web.queries import load_ticket
from web.queue_filter import Viewer
from web.serialize import message_json

log = logging.getLogger(__name__)
bp = Blueprint("replies", __name__)
api_bp = Blueprint("replies_api", __name__)

MAX_ATTACHMENTS = 20


def _ticket_or_404(ticket_id: int) -> Ticket:
    user = g.get("api_user") or current_user  # the API's token, or the logged-in agent
    ticket = load_ticket(db(), ticket_id, Viewer(user.id, get_runtime().settings, user.is_admin))
    if ticket is None:
        abort(404)
    return ticket


def _outbound_or_404(ticket: Ticket, message_id: int) -> Message:
    message = db().get(Message, message_id)
    if message is None or message.ticket_id != ticket.id or message.delivery is None:
        abort(404)
    return message


def _cc_list(values: list[str]) -> tuple[str, ...]:
    """cc as a list, or as comma- or semicolon-separated text."""
    found: list[str] = []
    for value in values:
        found += [a.strip() for a in clean(value).replace(";", ",").split(",") if a.strip()]
    return tuple(found)


def _uploaded(files: list[FileStorage]) -> tuple[OutgoingAttachment, ...]:
    chosen = [f for f in files if f.filename]
    if len(chosen) > MAX_ATTACHMENTS:
        raise RejectedError("at most {limit} attachments", limit=MAX_ATTACHMENTS)
    return tuple(
        OutgoingAttachment(
            clean(f.filename or "attachment"), f.mimetype or "application/octet-stream", f.read()
        )
        for f in chosen
    )


def _json_attachments(items: Any) -> tuple[tuple[OutgoingAttachment, ...], tuple[int, ...]]:
    """``attachments``: ids of attachments on the ticket, or ``{filename, content_type,
    content_base64}`` objects."""
    if items is None:
        return (), ()
    if not isinstance(items, list) or len(items) > MAX_ATTACHMENTS:
        raise RejectedError(
            "attachments must be a list of at most {limit}",
            limit=MAX_ATTACHMENTS,
        )
    new: list[OutgoingAttachment] = []
    ids: list[int] = []
    for item in items:
        if isinstance(item, int) and not isinstance(item, bool):
            ids.append(item)
            continue
        if not isinstance(item, dict) or not isinstance(item.get("content_base64"), str):
            raise RejectedError(
                "each attachment is an attachment id or an object with filename, content_type "
                "and content_base64"
            )
        try:
            data = base64.b64decode(item["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            raise RejectedError("content_base64 is not valid base64") from None
        new.append(
            OutgoingAttachment(
                clean(str(item.get("filename") or "attachment")),
                clean(str(item.get("content_type") or "application/octet-stream")),
                data,
            )
        )
    return tuple(new), tuple(ids)


def _api_request() -> ReplyRequest:
    if request.mimetype == "multipart/form-data":
        ids = tuple(int(i) for i in request.form.getlist("attachment_ids") if i.strip().isdigit())
        return ReplyRequest(
            text=form_text("text"),
            cc=_cc_list(request.form.getlist("cc")),
            attachments=_uploaded(request.files.getlist("attachments")),
            attachment_ids=ids,
        )
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        raise RejectedError('send JSON {"text": "...", "cc": [...], "attachments": [...]}')
    cc = body.get("cc") or []
    if isinstance(cc, str):
        cc = [cc]
    if not isinstance(cc, list) or not all(isinstance(a, str) for a in cc):
        raise RejectedError("cc must be a list of addresses")
    attachments, ids = _json_attachments(body.get("attachments"))
    return ReplyRequest(clean(body["text"]), _cc_list(cc), attachments, ids)


def _me() -> User | None:
    return db().get(User, current_user.id)


# Ticket page


@bp.post("/tickets/<int:ticket_id>/replies")
@login_required
def reply(ticket_id: int) -> Response:
    ticket = _ticket_or_404(ticket_id)
    try:
        message = queue_reply(
            get_runtime(),
            db(),
            ticket,
            _me(),
            ReplyRequest(
                text=form_text("text"),
                cc=_cc_list(request.form.getlist("cc")),
                attachments=_uploaded(request.files.getlist("attachments")),
            ),
        )
        db().commit()
    except IntakeError as exc:
        db().rollback()
        flash(_("Reply not sent: %(exc)s", exc=exc), "error")
        return redirect(url_for("views.ticket", ticket_id=ticket_id) + "#reply")
    flash(_("Reply queued for sending."), "ok")
    return redirect(url_for("views.ticket", ticket_id=ticket_id) + f"#message-{message.id}")


@bp.post("/tickets/<int:ticket_id>/notes")
@login_required
def note(ticket_id: int) -> Response:
    ticket = _ticket_or_404(ticket_id)
    try:
        message = add_note(get_runtime(), db(), ticket, _me(), form_text("text"))
        db().commit()
    except IntakeError as exc:
        db().rollback()
        flash(_("Note not added: %(exc)s", exc=exc), "error")
        return redirect(url_for("views.ticket", ticket_id=ticket_id) + "#note")
    flash(_("Note added."), "ok")
    return redirect(url_for("views.ticket", ticket_id=ticket_id) + f"#message-{message.id}")


@bp.post("/tickets/<int:ticket_id>/messages/<int:message_id>/retry")
@login_required
def retry(ticket_id: int, message_id: int) -> Response:
    message = _outbound_or_404(_ticket_or_404(ticket_id), message_id)
    try:
        retry_delivery(get_runtime(), db(), message)
        db().commit()
        flash(_("Sending again."), "ok")
    except RejectedError as exc:
        db().rollback()
        flash(error_text(exc), "error")
    return redirect(url_for("views.ticket", ticket_id=ticket_id) + f"#message-{message_id}")


@bp.app_context_processor
def reply_panel_helper() -> dict[str, Any]:
    return {"reply_panel": reply_panel}


def reply_panel(ticket: Ticket) -> dict[str, Any]:
    """What the reply form shows: where the reply goes, from where, and the canned texts."""
    runtime = get_runtime()
    parent = last_customer_message(ticket)
    panel: dict[str, Any] = {"to": None, "sender": None, "problem": None}
    try:
        panel["to"] = customer_address(runtime, ticket, parent).email
        panel["sender"] = reply_sender(runtime.settings, ticket, parent).email
    except IntakeError as exc:
        panel["problem"] = error_text(exc)
    if not runtime.settings.outbound_smtp_url:
        panel["problem"] = panel["problem"] or (
            _("No outbound relay is configured (INTAKE_OUTBOUND_SMTP_URL): replies will wait.")
        )
    canned: list[FilledResponse] = filled_responses(db(), ticket, _me())
    panel["canned"] = canned
    return panel


# API


def _error(status: int, kind: str, message: str) -> tuple[Response, int]:
    return jsonify(error=kind, message=message), status


@api_bp.post("/api/tickets/<int:ticket_id>/replies")
@token_required
def api_reply(ticket_id: int) -> tuple[Response, int]:
    ticket = _ticket_or_404(ticket_id)
    try:
        message = queue_reply(get_runtime(), db(), ticket, g.api_user, _api_request())
        db().commit()
    except IntakeError as exc:
        db().rollback()
        return _error(422, "invalid", str(exc))
    return jsonify(message_json(message)), 202


@api_bp.post("/api/tickets/<int:ticket_id>/notes")
@token_required
def api_note(ticket_id: int) -> tuple[Response, int]:
    ticket = _ticket_or_404(ticket_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return _error(400, "bad_request", 'send JSON {"text": "..."}')
    try:
        message = add_note(get_runtime(), db(), ticket, g.api_user, clean(body["text"]))
        db().commit()
    except IntakeError as exc:
        db().rollback()
        return _error(422, "invalid", str(exc))
    return jsonify(message_json(message)), 201


@api_bp.post("/api/tickets/<int:ticket_id>/replies/<int:message_id>/retry")
@token_required
def api_retry(ticket_id: int, message_id: int) -> tuple[Response, int]:
    message = _outbound_or_404(_ticket_or_404(ticket_id), message_id)
    try:
        retry_delivery(get_runtime(), db(), message)
        db().commit()
    except RejectedError as exc:
        db().rollback()
        return _error(409, "conflict", str(exc))
    db().refresh(message)
    return jsonify(message_json(message)), 202


@api_bp.errorhandler(400)
@api_bp.errorhandler(404)
@api_bp.errorhandler(413)
def api_error(error: Any) -> tuple[Response, int]:
    return _error(error.code, error.name.lower().replace(" ", "_"), error.description)
