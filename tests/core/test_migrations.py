from __future__ import annotations

import json
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from intake.core.db.migrate import alembic_config, upgrade


def test_migrations_create_exactly_the_schema_the_models_describe(database_url: str) -> None:
    # Raises when a model changed without a migration (or the other way round).
    command.check(alembic_config(database_url))


def test_the_complaint_category_becomes_the_complaint_flag(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    upgrade(url, "0003")
    engine = create_engine(url)
    rule = {"name": "angry", "conditions": [], "actions": {"set_category": "complaint"}}
    with engine.begin() as connection:
        for key, category in (("a", "complaint"), ("b", "billing")):
            connection.execute(
                text(
                    "INSERT INTO tickets (subject, channel, status, automatic, category,"
                    " priority, priority_rank, priority_reasons, needs_review, tags,"
                    " created_at, updated_at) VALUES (:s, 'email', 'new', false, :c, 'medium',"
                    " 2, '[]', false, '[]', '2026-11-30 10:00:00', '2026-11-30 10:00:00')"
                ),
                {"s": key, "c": category},
            )
        connection.execute(
            text(
                "INSERT INTO rules (name, position, enabled, definition, created_at)"
                " VALUES ('angry', 1, true, :d, '2026-11-30 10:00:00')"
            ),
            {"d": json.dumps(rule)},
        )
    upgrade(url)
    with engine.begin() as connection:
        tickets = connection.execute(
            text("SELECT subject, category, complaint FROM tickets ORDER BY subject")
        ).all()
        retired = connection.scalar(text("SELECT retired FROM categories WHERE key='complaint'"))
        definition = connection.scalar(text("SELECT definition FROM rules"))
    engine.dispose()
    assert [tuple(row) for row in tickets] == [("a", "other", 1), ("b", "billing", 0)]
    assert retired
    assert json.loads(definition)["actions"] == {"set_complaint": True}
