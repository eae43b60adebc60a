"""Admin pages for customers: search, set a tier (e.g. VIP), import a CSV file."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from werkzeug.wrappers import Response

from intake.core.customer_import import MAX_TIER_LENGTH, ImportResult, import_customers, parse_csv
from intake.core.customers import parse_tier_domains, save_tier_domains, tier_domains
from intake.core.db.models import Customer
from intake.errors import RejectedError
from web.auth import admin_required
from web.context import db
from web.form_input import arg_text, form_text
from web.i18n import error_text
from web.serialize import ticket_counts

log = logging.getLogger(__name__)
bp = Blueprint("customers", __name__, url_prefix="/admin/customers")

PAGE_SIZE = 200
MAX_CSV_BYTES = 20 * 1024 * 1024


def _render(result: ImportResult | None = None, import_error: str | None = None) -> str:
    q = arg_text("q").strip()
    tier = arg_text("tier").strip()
    query = select(Customer)
    if q:
        pattern = f"%{q}%"
        query = query.where(
            or_(
                Customer.email.ilike(pattern),
                Customer.phone.ilike(pattern),
                Customer.name.ilike(pattern),
            )
        )
    if tier:
        query = query.where(Customer.tier == tier)
    customers = list(
        db().scalars(query.order_by(Customer.last_contact_at.desc(), Customer.id).limit(PAGE_SIZE))
    )
    counts = ticket_counts(db(), (c.id for c in customers))
    tiers = db().scalars(
        select(Customer.tier).where(Customer.tier.is_not(None)).distinct().order_by(Customer.tier)
    )
    return render_template(
        "admin/customers.html",
        customers=customers,
        counts=counts,
        q=q,
        tier=tier,
        tiers=list(tiers),
        page_size=PAGE_SIZE,
        result=result,
        import_error=import_error,
        max_tier=MAX_TIER_LENGTH,
        tier_domains="\n".join(f"{d} = {t}" for d, t in sorted(tier_domains(db()).items())),
    )


@bp.get("")
@admin_required
def customers() -> str:
    return _render()


@bp.post("/<int:customer_id>/tier")
@admin_required
def set_tier(customer_id: int) -> Response:
    customer = db().get(Customer, customer_id)
    if customer is None:
        abort(404)
    tier = form_text("tier").strip().lower()
    if len(tier) > MAX_TIER_LENGTH:
        flash(
            _(
                "A tier has at most %(MAX_TIER_LENGTH)s characters.",
                MAX_TIER_LENGTH=MAX_TIER_LENGTH,
            ),
            "error",
        )
    else:
        customer.tier = tier or None
        db().commit()
        who = customer.email or customer.phone or f"#{customer.id}"
        log.info("%s set tier of customer %d to %r", current_user.email, customer.id, tier)
        flash(
            _("%(who)s: tier %(tier)s.", who=who, tier=tier.upper())
            if tier
            else _("%(who)s: tier cleared.", who=who),
            "ok",
        )
    return redirect(url_for("customers.customers", q=arg_text("q") or None))


@bp.post("/import")
@admin_required
def import_csv() -> str | tuple[str, int]:
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _render(import_error="Choose a CSV file to import."), 400
    data = upload.stream.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        return _render(import_error="The file is larger than 20 MB; split it."), 400
    try:
        rows = parse_csv(data)
    except RejectedError as exc:
        return _render(import_error=f"{upload.filename}: {error_text(exc)}"), 400
    result = import_customers(db(), rows)
    db().commit()
    log.info(
        "%s imported customers from %r: %s", current_user.email, upload.filename, result.summary
    )
    return _render(result=result)


@bp.post("/tier-domains")
@admin_required
def set_tier_domains() -> Response | tuple[str, int]:
    """New customers from these domains get the tier (e.g. every @bigcorp.example is VIP)."""
    try:
        mapping = parse_tier_domains(form_text("tier_domains"))
    except RejectedError as exc:
        flash(error_text(exc), "error")
        return _render(), 400
    save_tier_domains(db(), mapping)
    db().commit()
    flash(_("%(count)s domain tier rule(s) saved.", count=len(mapping)), "ok")
    return redirect(url_for("customers.customers"))
