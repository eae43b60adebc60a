from __future__ import annotations

from alembic import command

from intake.core.db.migrate import alembic_config


def test_migrations_create_exactly_the_schema_the_models_describe(database_url: str) -> None:
    # Raises when a model changed without a migration (or the other way round).
    command.check(alembic_config(database_url))
