"""contact facts: each ticket keeps whether it was a repeat contact and its earlier requests

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REPEAT_WINDOW_SECONDS = 7 * 86_400
EARLIER_CAP = 1_000  # intake.core.contact_facts.CONTACT_EARLIER_CAP at the time of writing
ANALYTICS_COLUMNS = [
    "created_at",
    "automatic",
    "category",
    "channel",
    "sentiment",
    "complaint",
    "priority",
    "sla_breached",
    "status",
    "customer_id",
    "first_response_at",
    "resolved_at",
    "sla_due_at",
    "mailbox_id",
    "group",
    "language",
]


def _epoch(postgres: bool, column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    if postgres:
        return sa.func.extract("epoch", column)
    return (sa.func.julianday(column) - 2440587.5) * 86_400


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("repeat_contact", sa.Boolean(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("contact_earlier", sa.Integer(), nullable=False, server_default="0")
        )
    # The dashboard's covering index gains them: its customer figures need no table page.
    op.drop_index("ix_tickets_analytics", table_name="tickets")
    # Backfill before the index is rebuilt (one index build, not one update per row), in one
    # set-based UPDATE per column with the definitions the dashboard used until now: the
    # customer's latest earlier request within 7 days, and the earlier requests up to the cap.
    postgres = op.get_bind().dialect.name == "postgresql"
    tickets = sa.table(
        "tickets",
        sa.column("id", sa.Integer),
        sa.column("customer_id", sa.Integer),
        sa.column("automatic", sa.Boolean),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("repeat_contact", sa.Boolean),
        sa.column("contact_earlier", sa.Integer),
    )
    earlier = tickets.alias("earlier")
    before_this = (
        earlier.c.customer_id == tickets.c.customer_id,
        earlier.c.created_at < tickets.c.created_at,
        earlier.c.automatic.is_(False),
    )
    previous_at = (
        sa.select(earlier.c.created_at)
        .where(*before_this)
        .order_by(earlier.c.customer_id.desc(), earlier.c.created_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    count = (
        sa.select(sa.func.count())
        .select_from(
            sa.select(earlier.c.id)
            .where(*before_this)
            .correlate(tickets)
            .limit(EARLIER_CAP)
            .subquery()
        )
        .scalar_subquery()
    )
    gap = _epoch(postgres, tickets.c.created_at) - _epoch(postgres, previous_at)
    op.execute(
        tickets.update()
        .where(tickets.c.customer_id.is_not(None), tickets.c.automatic.is_(False))
        .values(
            repeat_contact=sa.func.coalesce(gap <= REPEAT_WINDOW_SECONDS, False),
            contact_earlier=count,
        )
    )
    op.create_index(
        "ix_tickets_analytics",
        "tickets",
        [*ANALYTICS_COLUMNS, "repeat_contact", "contact_earlier"],
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_analytics", table_name="tickets")
    op.create_index("ix_tickets_analytics", "tickets", ANALYTICS_COLUMNS)
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("contact_earlier")
        batch.drop_column("repeat_contact")
