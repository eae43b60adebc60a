"""The customer page: every ticket of one person across channels, and merging two records."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from intake.core.activity import Actor
from intake.core.customer_merge import merge_customers, merges_into
from intake.core.customers import normalize_email, normalize_phone
from intake.core.db.models import Customer, Ticket, User
from intake.core.groups import visible_to
from intake.errors import RejectedError
from web.auth import login_required, token_required
from web.context import db
from web.form_input import form_text
from web.i18n import error_text
from web.serialize import customer_json, ticket_counts, tickets_json

log = logging.getLogger(__name__)
bp = Blueprint("customer_pages", __name__)
api_bp = Blueprint("customers_api", __name__)

MAX_TICKETS = 500


def _customer_or_404(customer_id: int) -> Customer:
    customer = db().get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def _tickets_of(session: Session, customer: Customer, user_id: int, is_admin: bool) -> list[Ticket]:
    """The customer's tickets this person may see, newest first, every channel."""
    return list(
        session.scalars(
            select(Ticket)
            .where(Ticket.customer_id == customer.id, visible_to(user_id, is_admin))
            .order_by(Ticket.created_at.desc(), Ticket.id.desc())
            .limit(MAX_TICKETS)
        )
    )


def find_customer(session: Session, text: str) -> Customer | None:
    """A customer by ``#id``, email address or phone number."""
    text = text.strip()
    if text.lstrip("#").isdigit() and text.startswith("#"):
        return session.get(Customer, int(text[1:]))
    if "@" in text:
        return session.scalar(select(Customer).where(Customer.email == normalize_email(text)))
    phone = normalize_phone(text)
    if phone is None:
        return None
    return session.scalar(select(Customer).where(Customer.phone == phone))


@bp.get("/customers/<int:customer_id>")
@login_required
def customer(customer_id: int) -> str:
    row = _customer_or_404(customer_id)
    tickets = _tickets_of(db(), row, current_user.id, current_user.is_admin)
    count = ticket_counts(db(), [row.id]).get(row.id, 0)
    return render_template(
        "customer.html",
        customer=row,
        info=customer_json(row, count),
        tickets=tickets_json(db(), tickets),
        merges=merges_into(db(), row.id),
    )


@bp.post("/customers/<int:customer_id>/merge")
@login_required
def merge(customer_id: int) -> Response:
    """Merge the record named in the form (``#id``, email or phone) into this one."""
    keep = _customer_or_404(customer_id)
    wanted = form_text("other").strip()
    other = find_customer(db(), wanted) if wanted else None
    if other is None:
        flash(
            _(
                "No customer record %(wanted)s: give its #number, email or phone.",
                wanted=repr(wanted),
            ),
            "error",
        )
        return redirect(url_for("customer_pages.customer", customer_id=customer_id))
    try:
        done = merge_customers(db(), keep, other, Actor.of(db().get(User, current_user.id)))
        db().commit()
        flash(
            _("Merged: %(count)s ticket(s) moved to this customer.", count=len(done.ticket_ids)),
            "ok",
        )
    except RejectedError as exc:
        db().rollback()
        flash(error_text(exc), "error")
    return redirect(url_for("customer_pages.customer", customer_id=customer_id))


@api_bp.get("/api/customers/<int:customer_id>")
@token_required
def api_customer(customer_id: int) -> Response:
    row = _customer_or_404(customer_id)
    tickets = _tickets_of(db(), row, g.api_user.id, g.api_user.is_admin)
    data = customer_json(row, ticket_counts(db(), [row.id]).get(row.id, 0)) or {}
    data["ticket_list"] = tickets_json(db(), tickets)
    return jsonify(data)


@api_bp.post("/api/customers/<int:customer_id>/merge/<int:other_id>")
@token_required
def api_merge(customer_id: int, other_id: int) -> tuple[Response, int]:
    """Merge customer ``other_id`` into ``customer_id``; 200 with the kept customer."""
    keep, other = _customer_or_404(customer_id), _customer_or_404(other_id)
    try:
        done = merge_customers(db(), keep, other, Actor.of(g.api_user))
        db().commit()
    except RejectedError as exc:
        db().rollback()
        return jsonify(error="invalid", message=str(exc)), 422
    count = ticket_counts(db(), [keep.id]).get(keep.id, 0)
    return jsonify(customer=customer_json(keep, count), moved=done.ticket_ids), 200
