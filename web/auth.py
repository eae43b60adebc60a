"""Login for people (session cookie + CSRF) and Bearer tokens for the API.

A session names the user *and* their ``session_version``; logout, a password change and a
deactivation raise the version, so every cookie issued before stops working, copies included.
Failed logins are counted per account and per client address in Redis (shared by every web
process, and expiring by itself); past a limit each further failure locks that account or address
for twice as long as the one before.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

import flask_login
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from redis import Redis
from redis.exceptions import RedisError
from werkzeug.wrappers import Response

from intake.core.db.models import User
from intake.core.users import check_login, end_sessions, user_for_token
from web.context import db, get_runtime

log = logging.getLogger(__name__)
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
        self.session_version = user.session_version
        self.language = user.language
        self.timezone = user.timezone

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        # Flask-Login stores this in the session (and signs it into a remember-me cookie), and
        # hands it back to load_user on every request.
        return f"{self.id}:{self.session_version}"


def load_user(session_id: str) -> SessionUser | None:
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None  # a session from before versions existed, or garbage: log in again
    user = db().get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return SessionUser(user)


login_manager.user_loader(load_user)


@dataclass(frozen=True)
class LoginThrottle:
    """Failed logins per account and per client address, kept in Redis.

    ``limit`` failures within ``window_s`` of each other are allowed; each failure after that
    locks the account (or address) for ``base_s`` doubled per extra failure, up to ``max_s``.
    While locked, no password is checked at all. Redis rather than the database: several web
    processes share it, keys expire by themselves, and a password-guessing burst does not turn
    into database writes. If Redis is down the throttle lets logins through (logged), so the
    people who must fix the outage can still log in.
    """

    connection: Redis
    account_limit: int = 5
    address_limit: int = 20
    base_s: float = 2.0
    max_s: float = 900.0
    window_s: int = 3600

    @staticmethod
    def _keys(kind: str, value: str) -> tuple[str, str]:
        digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]
        return f"intake:login:fail:{kind}:{digest}", f"intake:login:lock:{kind}:{digest}"

    def _subjects(self, email: str, address: str) -> list[tuple[str, str, int]]:
        return [
            ("account", email.strip().lower(), self.account_limit),
            ("address", address, self.address_limit),
        ]

    def locked_for(self, email: str, address: str) -> float:
        """Seconds until a login for ``email`` from ``address`` may be tried again (0: now)."""
        try:
            pipe = self.connection.pipeline(transaction=False)
            for kind, value, _limit in self._subjects(email, address):
                pipe.pttl(self._keys(kind, value)[1])
            remaining = max(int(ms) for ms in pipe.execute())
        except RedisError as exc:
            log.warning("login throttle unavailable, not limiting: %s", exc)
            return 0.0
        return remaining / 1000 if remaining > 0 else 0.0

    def failed(self, email: str, address: str) -> None:
        try:
            for kind, value, limit in self._subjects(email, address):
                fail_key, lock_key = self._keys(kind, value)
                pipe = self.connection.pipeline(transaction=True)
                pipe.incr(fail_key)
                pipe.expire(fail_key, self.window_s)
                count = int(pipe.execute()[0])
                if count >= limit:
                    lock_s = min(self.max_s, self.base_s * 2 ** min(count - limit, 30))
                    self.connection.set(lock_key, count, px=max(1, int(lock_s * 1000)))
                    log.warning(
                        "%s %r locked for %.1f s after %d failed logins", kind, value, lock_s, count
                    )
        except RedisError as exc:
            log.warning("login throttle unavailable, failure not counted: %s", exc)

    def succeeded(self, email: str) -> None:
        # Only the account's count: a success from an address that also tried many other
        # accounts must not wipe that address's record.
        try:
            self.connection.delete(*self._keys("account", email.strip().lower()))
        except RedisError as exc:
            log.warning("login throttle unavailable: %s", exc)


def login_throttle() -> LoginThrottle:
    config = current_app.config
    return LoginThrottle(
        get_runtime().jobs.connection,
        account_limit=config.get("LOGIN_ACCOUNT_LIMIT", 5),
        address_limit=config.get("LOGIN_ADDRESS_LIMIT", 20),
        base_s=config.get("LOGIN_LOCK_BASE_SECONDS", 2.0),
        max_s=config.get("LOGIN_LOCK_MAX_SECONDS", 900.0),
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int, dict[str, str]]:
    if request.method == "POST":
        email = request.form.get("email", "")
        address = request.remote_addr or "unknown"
        throttle = login_throttle()
        wait = throttle.locked_for(email, address)
        if wait > 0:
            seconds = math.ceil(wait)
            log.warning("login locked for %r from %s (%d s left)", email[:320], address, seconds)
            message = _(
                "Too many failed logins. Try again in %(seconds)s seconds.", seconds=seconds
            )
            flash(message, "error")
            return render_template("login.html"), 429, {"Retry-After": str(seconds)}
        user = check_login(db(), email, request.form.get("password", ""))
        if user is not None:
            throttle.succeeded(email)
            login_user(SessionUser(user))
            return redirect(local_target(request.args.get("next"), url_for("views.queue")))
        throttle.failed(email, address)
        flash(_("Wrong email or password."), "error")
    return render_template("login.html")


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    # Ends every session of this user, not just this cookie: a copy of the cookie taken before
    # logout must not work after it (Flask's session lives in the cookie, not on the server).
    user = db().get(User, current_user.id)
    if user is not None:
        end_sessions(user)
        db().commit()
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
