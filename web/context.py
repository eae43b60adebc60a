"""Per-request access to the runtime and a database session."""

from __future__ import annotations

from flask import current_app, g
from sqlalchemy.orm import Session

from intake.core.runtime import Runtime


def get_runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["intake_runtime"]
    return runtime


def db() -> Session:
    """The request's session; views commit explicitly, teardown closes it."""
    if "db_session" not in g:
        g.db_session = get_runtime().db.sessionmaker()
    session: Session = g.db_session
    return session
