"""Admin pages for people: users, roles, passwords and their API tokens.

Sessions re-read the user row on every request (``web.auth.load_user``), so a role change takes
effect on that person's next click; a deactivation or a new password also ends their sessions.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from intake.core.db.models import ApiToken, User
from intake.core.users import (
    MIN_PASSWORD_LENGTH,
    add_user,
    create_token,
    find_user,
    set_password,
)
from intake.core.users import set_active as set_user_active
from intake.domain import Role
from intake.errors import RejectedError
from web.auth import SessionUser, admin_required
from web.context import db
from web.form_input import form_text

log = logging.getLogger(__name__)
bp = Blueprint("people", __name__, url_prefix="/admin/people")


def _active_admins() -> int:
    return (
        db().scalar(
            select(func.count(User.id)).where(User.role == Role.ADMIN, User.active.is_(True))
        )
        or 0
    )


def _would_remove_last_admin(user: User) -> bool:
    return user.active and user.is_admin and _active_admins() <= 1


def _user_or_404(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _back(user_id: int | None = None) -> Response:
    if user_id is None:
        return redirect(url_for("people.people"))
    return redirect(url_for("people.person", user_id=user_id))


@bp.get("")
@admin_required
def people() -> str:
    users = db().scalars(select(User).order_by(User.active.desc(), User.email)).all()
    token_counts = dict(
        db()
        .execute(select(ApiToken.user_id, func.count(ApiToken.id)).group_by(ApiToken.user_id))
        .all()
    )
    return render_template(
        "admin/people.html",
        users=users,
        token_counts=token_counts,
        roles=[r.value for r in Role],
        min_password=MIN_PASSWORD_LENGTH,
    )


@bp.post("")
@admin_required
def add_person() -> Response:
    email = form_text("email").strip()
    if find_user(db(), email) is not None:
        flash(_("%(email)s already exists; change them below.", email=email.lower()), "error")
        return _back()
    try:
        role = Role(request.form.get("role", Role.AGENT))
        user = add_user(
            db(),
            email,
            role,
            request.form.get("password", ""),
            form_text("name").strip(),
        )
    except ValueError:
        flash(_("Unknown role."), "error")
        return _back()
    except RejectedError as exc:
        db().rollback()
        flash(_("Not added: %(exc)s.", exc=exc), "error")
        return _back()
    db().commit()
    log.info("%s added user %s (%s)", current_user.email, user.email, user.role)
    flash(_("Added %(email)s as %(role)s.", email=user.email, role=user.role), "ok")
    return _back()


@bp.get("/<int:user_id>")
@admin_required
def person(user_id: int) -> str:
    return _person_page(_user_or_404(user_id), new_token=None)


def _person_page(user: User, new_token: str | None) -> str:
    tokens = db().scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.created_at.desc())
    )
    return render_template(
        "admin/people_detail.html",
        user=user,
        tokens=list(tokens),
        roles=[r.value for r in Role],
        min_password=MIN_PASSWORD_LENGTH,
        new_token=new_token,
    )


@bp.post("/<int:user_id>/role")
@admin_required
def change_role(user_id: int) -> Response:
    user = _user_or_404(user_id)
    try:
        role = Role(request.form.get("role", ""))
    except ValueError:
        flash(_("Unknown role."), "error")
        return _back(user_id)
    if role != user.role:
        if role is not Role.ADMIN and _would_remove_last_admin(user):
            flash(
                _("%(email)s is the last admin; make someone else admin first.", email=user.email),
                "error",
            )
            return _back(user_id)
        user.role = role
        db().commit()
        log.info("%s set role of %s to %s", current_user.email, user.email, role)
        flash(_("%(email)s is now %(role)s.", email=user.email, role=role), "ok")
    return _back(user_id)


@bp.post("/<int:user_id>/active")
@admin_required
def set_active(user_id: int) -> Response:
    user = _user_or_404(user_id)
    active = request.form.get("active") == "1"
    if not active and _would_remove_last_admin(user):
        flash(
            _("%(email)s is the last admin and cannot be deactivated.", email=user.email), "error"
        )
        return _back(user_id)
    if user.active != active:
        set_user_active(user, active)
        db().commit()
        log.info("%s set %s active=%s", current_user.email, user.email, active)
        flash(
            _("%(email)s reactivated.", email=user.email)
            if active
            else _("%(email)s deactivated.", email=user.email),
            "ok",
        )
    return _back(user_id)


@bp.post("/<int:user_id>/password")
@admin_required
def reset_password(user_id: int) -> Response:
    user = _user_or_404(user_id)
    password = request.form.get("password", "")
    if len(password) < MIN_PASSWORD_LENGTH:
        flash(
            _(
                "Password must have at least %(MIN_PASSWORD_LENGTH)s characters.",
                MIN_PASSWORD_LENGTH=MIN_PASSWORD_LENGTH,
            ),
            "error",
        )
        return _back(user_id)
    set_password(user, password)
    db().commit()
    if user.id == current_user.id:
        # Their other sessions end; this one continues under the new version.
        login_user(SessionUser(user))
    log.info("%s reset the password of %s", current_user.email, user.email)
    flash(_("Password of %(email)s changed.", email=user.email), "ok")
    return _back(user_id)


@bp.post("/<int:user_id>/tokens")
@admin_required
def new_token(user_id: int) -> str:
    user = _user_or_404(user_id)
    name = form_text("name").strip()[:200] or "web"
    token = create_token(db(), user.email, name)
    db().commit()
    log.info("%s created API token %r for %s", current_user.email, name, user.email)
    # Rendered, not redirected: the token is shown this once and never stored in clear.
    return _person_page(user, new_token=token)


@bp.post("/<int:user_id>/tokens/<int:token_id>/revoke")
@admin_required
def revoke_token(user_id: int, token_id: int) -> Response:
    token = db().get(ApiToken, token_id)
    if token is None or token.user_id != user_id:
        abort(404)
    db().delete(token)
    db().commit()
    log.info("%s revoked API token %d of user %d", current_user.email, token_id, user_id)
    flash(_("Token revoked."), "ok")
    return _back(user_id)
