"""Alembic environment: runs migrations against the URL set by intake.core.db.migrate."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from intake.core.db.base import Base, UTCDateTime
from intake.core.db.engine import make_engine
from intake.core.search import SEARCH_TABLES


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    # Migrations must not import model code: UTCDateTime is a plain timezone-aware DateTime.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def include_name(name: str | None, type_: str, _parents: Any) -> bool:
    # The full-text search tables differ per database and are no models (intake/core/search.py);
    # SQLite's FTS5 keeps its shadow tables beside them (ticket_fts_data, ...).
    if type_ == "table" and name:
        return not any(name == t or name.startswith(f"{t}_") for t in SEARCH_TABLES)
    return True


def include_object(
    obj: Any, _name: str | None, type_: str, _reflected: bool, _compare_to: Any
) -> bool:
    # An index the models build on one database only (``Index.ddl_if(dialect=...)``) is not
    # missing on the others.
    if type_ == "index" and obj is not None and getattr(obj, "_ddl_if", None) is not None:
        wanted = obj._ddl_if.dialect
        if wanted is not None:
            names = {wanted} if isinstance(wanted, str) else set(wanted)
            return context.get_bind().dialect.name in names
    return True


config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("sqlalchemy.url must be set by intake.core.db.migrate")

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        render_item=render_item,
        include_name=include_name,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
