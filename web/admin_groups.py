"""Admin pages for groups: members, how each group assigns its tickets, who is away."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from intake.core.assignment import open_counts
from intake.core.db.admin_models import Group
from intake.core.db.models import User
from intake.core.groups import (
    all_groups,
    configure_group,
    create_group,
    delete_group,
    parse_strategy,
    rename_group,
    set_away,
    set_members,
)
from intake.domain import AssignmentStrategy
from intake.errors import RejectedError
from web.auth import admin_required, local_target, login_required
from web.context import db
from web.form_input import form_text
from web.i18n import error_text

log = logging.getLogger(__name__)
bp = Blueprint("groups", __name__)

STRATEGY_LABELS = {
    AssignmentStrategy.MANUAL: "manual (agents take tickets)",
    AssignmentStrategy.ROUND_ROBIN: "round-robin",
    AssignmentStrategy.LEAST_OPEN: "least open tickets",
}


def _cap() -> int | None:
    raw = form_text("max_open").strip()
    if not raw:
        return None
    try:
        return int(raw)
    except ValueError:
        raise RejectedError("the cap is a whole number of tickets, got {raw!r}", raw=raw) from None


def _member_ids() -> list[int]:
    try:
        return [int(v) for v in request.form.getlist("members")]
    except ValueError:
        raise RejectedError("members are chosen from the list") from None


def _group_or_404(group_id: int) -> Group:
    group = db().get(Group, group_id)
    if group is None:
        abort(404)
    return group


@bp.get("/admin/groups")
@admin_required
def groups() -> str:
    people = list(db().scalars(select(User).where(User.active.is_(True)).order_by(User.email)))
    return render_template(
        "admin/groups.html",
        groups=all_groups(db()),
        people=people,
        loads=open_counts(db(), [p.id for p in people]),
        strategies=STRATEGY_LABELS,
    )


@bp.post("/admin/groups")
@admin_required
def add_group() -> Response:
    try:
        group = create_group(
            db(), form_text("name"), parse_strategy(form_text("strategy", "manual")), _cap()
        )
        set_members(db(), group, _member_ids())
        db().commit()
        log.info("%s added group %s", current_user.email, group.name)
        flash(_("Group %(name)s added.", name=repr(group.name)), "ok")
    except RejectedError as exc:
        db().rollback()
        flash(error_text(exc), "error")
    return redirect(url_for("groups.groups"))


@bp.post("/admin/groups/<int:group_id>")
@admin_required
def save_group(group_id: int) -> Response:
    group = _group_or_404(group_id)
    try:
        moved = rename_group(db(), group, form_text("name", group.name))
        configure_group(db(), group, parse_strategy(form_text("strategy")), _cap())
        set_members(db(), group, _member_ids())
        db().commit()
        log.info("%s changed group %s", current_user.email, group.name)
        flash(
            _(
                "Group %(name)s saved; %(count)s ticket(s) renamed with it.",
                name=repr(group.name),
                count=moved,
            )
            if moved
            else _("Group %(name)s saved.", name=repr(group.name)),
            "ok",
        )
    except RejectedError as exc:
        db().rollback()
        flash(error_text(exc), "error")
    return redirect(url_for("groups.groups"))


@bp.post("/admin/groups/<int:group_id>/delete")
@admin_required
def remove_group(group_id: int) -> Response:
    group = _group_or_404(group_id)
    name = group.name
    delete_group(db(), group)
    db().commit()
    log.info("%s deleted group %s", current_user.email, name)
    flash(
        _("Group %(name)s deleted; its tickets are now visible to every agent.", name=repr(name)),
        "ok",
    )
    return redirect(url_for("groups.groups"))


@bp.post("/admin/people/<int:user_id>/away")
@admin_required
def person_away(user_id: int) -> Response:
    user = db().get(User, user_id)
    if user is None:
        abort(404)
    set_away(db(), user, request.form.get("away") == "1")
    db().commit()
    flash(
        _("%(email)s is away.", email=user.email)
        if user.away
        else _("%(email)s is back.", email=user.email),
        "ok",
    )
    return redirect(url_for("groups.groups"))


@bp.post("/me/away")
@login_required
def my_away() -> Response:
    """Agents mark themselves away (holiday) and back; assignment skips them meanwhile."""
    user = db().get(User, current_user.id)
    if user is None:
        abort(404)
    set_away(db(), user, request.form.get("away") == "1")
    db().commit()
    flash(
        _("You are away: no new tickets are assigned to you.") if user.away else _("Welcome back."),
        "ok",
    )
    return redirect(local_target(request.form.get("next"), url_for("views.queue")))
