"""Users, password checks and API tokens (stored only as sha256 hashes)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from intake.core.db.base import utcnow
from intake.core.db.models import ApiToken, User
from intake.domain import Role
from intake.errors import NotFoundError, RejectedError

TOKEN_PREFIX = "itk_"
MIN_PASSWORD_LENGTH = 8

# Checked against when the account is unknown or inactive, so a failed login costs one hash
# check either way and its timing does not tell which emails have an account. Made once, with
# the same method and cost as real hashes (making one per attempt doubled the time).
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


def find_user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email.strip().lower()))


def add_user(session: Session, email: str, role: Role, password: str, name: str = "") -> User:
    email = email.strip().lower()
    if "@" not in email:
        raise RejectedError("not an email address: {email!r}", email=email)
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RejectedError(
            "password must have at least {limit} characters",
            limit=MIN_PASSWORD_LENGTH,
        )
    user = find_user(session, email)
    if user is None:
        user = User(email=email, name=name, session_version=0)
        session.add(user)
    user.role = role
    set_password(user, password)
    user.active = True
    session.flush()
    return user


def end_sessions(user: User) -> None:
    """Every login session (and remember-me cookie) of ``user`` stops working."""
    user.session_version = (user.session_version or 0) + 1


def set_password(user: User, password: str) -> None:
    """A new password ends every session made with the old one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise RejectedError(
            "password must have at least {limit} characters",
            limit=MIN_PASSWORD_LENGTH,
        )
    user.password_hash = generate_password_hash(password)
    end_sessions(user)


def set_active(user: User, active: bool) -> None:
    if user.active and not active:
        end_sessions(user)
    user.active = active


def check_login(session: Session, email: str, password: str) -> User | None:
    user = find_user(session, email)
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(session: Session, email: str, name: str = "") -> str:
    user = find_user(session, email)
    if user is None:
        raise NotFoundError("no user {email}", email=email)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_sha256=_token_hash(token), name=name))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    api_token = session.scalar(select(ApiToken).where(ApiToken.token_sha256 == _token_hash(token)))
    if api_token is None or not api_token.user.active:
        return None
    api_token.last_used_at = utcnow()
    return api_token.user
