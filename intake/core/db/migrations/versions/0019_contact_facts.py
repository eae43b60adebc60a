"""contact facts: each ticket keeps whether it was a repeat contact and its earlier requests;
PostgreSQL's mail-flag counts from an index

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02
"""

from collections.abc import Sequence

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


# Every customer's requests in one sort by customer and time (window functions; correlated
# subqueries per ticket took 83 s for 100,000 tickets on PostgreSQL): RANK counts the strictly
# earlier requests, the MAX without the current row's peers is the latest strictly earlier one.
BACKFILL = """
UPDATE tickets SET repeat_contact = facts.repeat_contact, contact_earlier = facts.contact_earlier
FROM (
  SELECT id,
    CASE WHEN ranked - 1 > :cap THEN :cap ELSE ranked - 1 END AS contact_earlier,
    COALESCE({epoch_created} - {epoch_previous} <= :window, false) AS repeat_contact
  FROM (
    SELECT id, created_at,
      RANK() OVER (PARTITION BY customer_id ORDER BY created_at) AS ranked,
      MAX(created_at) OVER (
        PARTITION BY customer_id ORDER BY created_at
        RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW EXCLUDE GROUP
      ) AS previous_at
    FROM tickets
    WHERE customer_id IS NOT NULL AND automatic = false
  ) AS history
) AS facts
WHERE tickets.id = facts.id
  AND (tickets.repeat_contact <> facts.repeat_contact
       OR tickets.contact_earlier <> facts.contact_earlier)
"""


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(
            sa.Column("repeat_contact", sa.Boolean(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("contact_earlier", sa.Integer(), nullable=False, server_default="0")
        )
    # The dashboard's covering index gains them, so its customer figures read no table page;
    # dropped first, so the backfill writes no index entries for it (one build at the end).
    op.drop_index("ix_tickets_analytics", table_name="tickets")
    if op.get_bind().dialect.name == "postgresql":
        epochs = {
            "epoch_created": "extract(epoch FROM created_at)",
            "epoch_previous": "extract(epoch FROM previous_at)",
        }
    else:
        epochs = {
            "epoch_created": "(julianday(created_at) - 2440587.5) * 86400",
            "epoch_previous": "(julianday(previous_at) - 2440587.5) * 86400",
        }
    op.get_bind().execute(
        sa.text(BACKFILL.format(**epochs)),
        {"cap": EARLIER_CAP, "window": REPEAT_WINDOW_SECONDS},
    )
    op.create_index(
        "ix_tickets_analytics",
        "tickets",
        [*ANALYTICS_COLUMNS, "repeat_contact", "contact_earlier"],
    )
    if op.get_bind().dialect.name == "postgresql":
        # The overview's auto-reply and bounce counts from the index alone: PostgreSQL cannot
        # key a B-tree on json (hence 0017 is SQLite's), but it can carry the column along.
        op.create_index(
            "ix_messages_received_direction_flags",
            "messages",
            ["received_at", "direction"],
            postgresql_include=["flags"],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_messages_received_direction_flags", table_name="messages")
    op.drop_index("ix_tickets_analytics", table_name="tickets")
    op.create_index("ix_tickets_analytics", "tickets", ANALYTICS_COLUMNS)
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("contact_earlier")
        batch.drop_column("repeat_contact")
