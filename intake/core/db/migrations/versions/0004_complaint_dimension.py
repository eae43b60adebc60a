"""complaint as its own dimension beside the topic

Tickets get ``complaint`` (with confidence and reasons) and the topic's reasons. The old
``complaint`` category becomes the flag: such tickets keep their complaint as ``complaint = true``
and take the topic ``other`` until they are classified again; the category is retired (kept for
history, no longer offered), and rules that set it set the flag instead.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("complaint", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("complaint_confidence", sa.Float(), nullable=True))
        batch.add_column(
            sa.Column("complaint_reasons", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(
            sa.Column("category_reasons", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.create_index("ix_tickets_complaint", ["complaint"])
    op.execute(
        "UPDATE tickets SET complaint = true, complaint_confidence = 1.0, category = 'other' "
        "WHERE category = 'complaint'"
    )
    op.execute("UPDATE categories SET retired = true WHERE key = 'complaint'")
    rules = sa.table("rules", sa.column("id", sa.Integer), sa.column("definition", sa.JSON))
    connection = op.get_bind()
    for rule_id, definition in connection.execute(sa.select(rules.c.id, rules.c.definition)):
        data = json.loads(definition) if isinstance(definition, str) else dict(definition or {})
        actions = dict(data.get("actions") or {})
        if actions.get("set_category") == "complaint":
            del actions["set_category"]
            actions["set_complaint"] = True
            data["actions"] = actions
            connection.execute(rules.update().where(rules.c.id == rule_id).values(definition=data))


def downgrade() -> None:
    op.execute("UPDATE categories SET retired = false WHERE key = 'complaint'")
    op.execute("UPDATE tickets SET category = 'complaint' WHERE complaint = true")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_complaint")
        batch.drop_column("category_reasons")
        batch.drop_column("complaint_reasons")
        batch.drop_column("complaint_confidence")
        batch.drop_column("complaint")
