"""Apply Alembic migrations programmatically (at `intake up`, `intake migrate` and in tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from intake.core.db.engine import make_engine, normalize_database_url
from intake.core.db.statistics import analyze

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation treats '%' specially (URL-encoded passwords).
    config.set_main_option(
        "sqlalchemy.url", normalize_database_url(database_url).replace("%", "%%")
    )
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)
    engine = make_engine(database_url)
    try:
        analyze(engine)  # an upgrade may have added indexes the planner knows nothing about
    finally:
        engine.dispose()
