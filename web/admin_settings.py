"""Admin pages for the taxonomy: categories (SLA policies are in ``web.admin_sla``).

Category keys never change once created: tickets, rules and model labels refer to them. Admins
rename the label, reorder, or retire a category (hidden from pickers and the classifier, kept on
old tickets). Workers read these tables on every classification, so a commit here takes effect
for the next message.
"""

from __future__ import annotations

import logging
import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from intake.core.db.admin_models import Category
from intake.core.db.models import Ticket
from web.auth import admin_required
from web.context import db
from web.form_input import form_text
from web.ordering import move

log = logging.getLogger(__name__)
bp = Blueprint("settings", __name__, url_prefix="/admin")

CATEGORY_KEY = re.compile(r"[a-z][a-z0-9_]{0,59}")


def _categories() -> list[Category]:
    return list(db().scalars(select(Category).order_by(Category.position, Category.id)))


def _category_or_404(category_id: int) -> Category:
    category = db().get(Category, category_id)
    if category is None:
        abort(404)
    return category


@bp.get("/categories")
@admin_required
def categories() -> str:
    usage = dict(
        db()
        .execute(
            select(Ticket.category, func.count(Ticket.id))
            .where(Ticket.category.is_not(None))
            .group_by(Ticket.category)
        )
        .all()
    )
    return render_template("admin/categories.html", categories=_categories(), usage=usage)


@bp.post("/categories")
@admin_required
def add_category() -> Response:
    key = form_text("key").strip().lower()
    label = form_text("label").strip()[:200] or key.replace("_", " ").capitalize()
    if not CATEGORY_KEY.fullmatch(key):
        flash(
            _(
                "A key is a lower-case letter followed by letters, digits or '_' (at most 60),"
                " e.g. 'refund_request'; got %(key)s.",
                key=repr(key),
            ),
            "error",
        )
        return redirect(url_for("settings.categories"))
    if db().scalar(select(Category).where(Category.key == key)) is not None:
        flash(
            _("Category %(key)s already exists (unretire it if it is retired).", key=repr(key)),
            "error",
        )
        return redirect(url_for("settings.categories"))
    position = db().scalar(select(func.max(Category.position))) or 0
    db().add(Category(key=key, label=label, retired=False, position=position + 1))
    db().commit()
    log.info("%s added category %s", current_user.email, key)
    flash(_("Category %(key)s added.", key=repr(key)), "ok")
    return redirect(url_for("settings.categories"))


@bp.post("/categories/<int:category_id>/label")
@admin_required
def rename_category(category_id: int) -> Response:
    category = _category_or_404(category_id)
    label = form_text("label").strip()[:200]
    if not label:
        flash(_("A label cannot be empty."), "error")
    elif label != category.label:
        category.label = label
        db().commit()
        flash(
            _(
                "Category %(key)s is now labelled %(label)s.",
                key=repr(category.key),
                label=repr(label),
            ),
            "ok",
        )
    return redirect(url_for("settings.categories"))


@bp.post("/categories/<int:category_id>/retired")
@admin_required
def retire_category(category_id: int) -> Response:
    category = _category_or_404(category_id)
    retire = request.form.get("retired") == "1"
    if retire and not category.retired:
        active = sum(1 for c in _categories() if not c.retired)
        if active <= 1:
            flash(_("The last active category cannot be retired."), "error")
            return redirect(url_for("settings.categories"))
    category.retired = retire
    db().commit()
    log.info("%s set category %s retired=%s", current_user.email, category.key, retire)
    flash(
        _("Category %(key)s retired.", key=repr(category.key))
        if retire
        else _("Category %(key)s back in use.", key=repr(category.key)),
        "ok",
    )
    return redirect(url_for("settings.categories"))


@bp.post("/categories/<int:category_id>/move")
@admin_required
def move_category(category_id: int) -> Response:
    moved = move(_categories(), category_id, request.form.get("direction", ""))
    if moved is None:
        abort(404)
    db().commit()
    return redirect(url_for("settings.categories"))
