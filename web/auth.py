"""Login for people (session cookie + CSRF) and Bearer tokens for the API."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import flask_login
from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from werkzeug.wrappers import Response

from intake.core.db.models import User
from intake.core.users import check_login, user_for_token
from web.context import db

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"

F = TypeVar("F", bound=Callable[..., Any])


def local_target(target: str | None, fallback: str) -> str:
    """``target`` if it is a path on this site, else ``fallback`` (no open redirects).

    Browsers drop tabs and newlines and treat backslashes as slashes, so ``/\\evil`` or
    ``/<tab>/evil`` would leave the site although they start with a single slash.
    """
    if not target or any(ord(ch) <= 0x20 or ch == "\\" for ch in target):
        return fallback
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return fallback
    return target


def login_required(view: F) -> F:
    """flask_login.login_required, typed."""
    return cast(F, flask_login.login_required(view))


class SessionUser(UserMixin):  # type: ignore[misc]
    """What Flask-Login keeps in the session: just the id and role, never the ORM row."""

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.email = user.email
        self.role = user.role

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def load_user(user_id: str) -> SessionUser | None:
    user = db().get(User, int(user_id))
    return SessionUser(user) if user is not None and user.active else None


login_manager.user_loader(load_user)


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    if request.method == "POST":
        user = check_login(db(), request.form.get("email", ""), request.form.get("password", ""))
        if user is not None:
            login_user(SessionUser(user))
            return redirect(local_target(request.args.get("next"), url_for("views.queue")))
        flash("Wrong email or password.", "error")
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    logout_user()
    return redirect(url_for("auth.login"))


def admin_required(view: F) -> F:
    @wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return cast(F, wrapper)


def token_required(view: F) -> F:
    """Bearer-token auth for the JSON API; 401 with a JSON error otherwise."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = user_for_token(db(), token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            response = jsonify(error="unauthorized", message="send Authorization: Bearer <token>")
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="intake"'
            return response
        db().commit()  # last_used_at
        g.api_user = user
        return view(*args, **kwargs)

    return cast(F, wrapper)
