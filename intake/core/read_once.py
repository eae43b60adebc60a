"""Admin-set configuration read once per transaction, for jobs that handle many items in one.

A batch job (``workers.intake``, ``workers.classification``) stores or classifies up to a few
dozen items in one transaction. Each item would read the same admin-set rows again: SLA
policies at every flush, app settings that were never saved (a missing row is not in the
session's identity map, so every lookup is a query). A session marked with :func:`hold` keeps
what was read for the rest of its transaction. Only sessions that never write those rows are
marked, so nothing they read can go stale under them; an admin's change is seen by the next
batch, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy.orm import Session

_KEY = "read_once"

T = TypeVar("T")


def hold(session: Session) -> None:
    """Keep admin-set configuration read in ``session`` until it ends (the caller never edits
    that configuration in this session)."""
    session.info[_KEY] = {}


def read(session: Session, key: Hashable, load: Callable[[], T]) -> T:
    """``load()``, or what it returned earlier in this session when the session is held."""
    store: dict[Hashable, object] | None = session.info.get(_KEY)
    if store is None:
        return load()
    if key not in store:
        store[key] = load()
    return store[key]  # type: ignore[return-value]
