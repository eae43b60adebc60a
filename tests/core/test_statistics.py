"""The planner's statistics are gathered after every upgrade."""

from __future__ import annotations

from sqlalchemy import text

from intake.core.db.engine import Database


def test_an_upgraded_database_has_statistics_for_its_seeded_tables(database_url: str) -> None:
    database = Database(database_url)  # the template was made by upgrade()
    with database.engine.connect() as conn:
        if database.engine.dialect.name == "sqlite":
            analyzed = conn.scalars(text("SELECT DISTINCT tbl FROM sqlite_stat1")).all()
        else:
            analyzed = conn.scalars(
                text("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL")
            ).all()
    database.dispose()
    assert "categories" in analyzed and "sla_policies" in analyzed
