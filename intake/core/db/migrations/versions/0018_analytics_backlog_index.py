"""analytics: the backlog's resolved-time index also holds the dashboard's filter columns

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The backlog counts tickets resolved per day and those still open, narrowed by the dashboard's
# filters: with the filter columns in the index neither reads a table page per ticket.
COLUMNS = [
    "resolved_at",
    "automatic",
    "category",
    "channel",
    "mailbox_id",
    "group",
    "language",
    "customer_id",
]


def upgrade() -> None:
    op.drop_index("ix_tickets_resolved_at", table_name="tickets")
    op.create_index("ix_tickets_resolved_at", "tickets", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_tickets_resolved_at", table_name="tickets")
    op.create_index("ix_tickets_resolved_at", "tickets", ["resolved_at", "automatic"])
