"""analytics: automatic-mail counts from an index on SQLite

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The overview counts the period's auto-replies and bounces by their flags. On SQLite this
    # index answers it without reading each (large) message row; PostgreSQL cannot put a json
    # column in a B-tree, and reads its heap rows quickly enough.
    if op.get_bind().dialect.name == "sqlite":
        op.create_index(
            "ix_messages_received_flags", "messages", ["received_at", "direction", "flags"]
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index("ix_messages_received_flags", table_name="messages")
