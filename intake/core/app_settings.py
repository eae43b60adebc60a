"""Values admins edit in the UI that every host must read alike: one JSON object per key in the
``app_settings`` table (not environment settings, which ``intake.core.settings`` reads once)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from intake.core import read_once
from intake.core.db.admin_models import AppSetting


def app_setting(session: Session, key: str) -> dict[str, Any]:
    """The stored value of ``key``; an empty object when it was never saved.

    Read once per transaction in a batch job's session (``intake.core.read_once``): a key never
    saved has no row for the session's identity map to keep, so each lookup was a query.
    """
    return dict(read_once.read(session, ("app_setting", key), lambda: _stored(session, key)))


def _stored(session: Session, key: str) -> dict[str, Any]:
    row = session.get(AppSetting, key)
    return dict(row.value) if row is not None and row.value else {}


def save_app_setting(session: Session, key: str, value: dict[str, Any]) -> None:
    """Replace ``key``'s value in the session's transaction (the caller commits)."""
    row = session.get(AppSetting, key)
    if row is None:
        session.add(AppSetting(key=key, value=value))
    else:
        row.value = value
