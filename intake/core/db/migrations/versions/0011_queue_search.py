"""the queue at scale: full-text search tables, keyset indexes, saved views, ticket merges

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from intake.core.search import POSTGRES_INDEX_DDL, POSTGRES_TABLE, SQLITE_TABLE
from intake.core.search_reindex import reindex_all

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

QUEUE_ORDER = ["priority_rank", "sla_due_at", "created_at", "id"]


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_tickets_merged_into", "tickets", ["merged_into_id"], ["id"], ondelete="SET NULL"
        )
    op.create_index("ix_tickets_queue_order", "tickets", QUEUE_ORDER)
    op.create_index("ix_tickets_queue_assignee", "tickets", ["assignee_id", *QUEUE_ORDER])
    op.create_index("ix_tickets_queue_mailbox", "tickets", ["mailbox_id", *QUEUE_ORDER])
    op.create_index("ix_tickets_updated_at", "tickets", ["updated_at"])
    op.create_index("ix_tickets_customer_automatic", "tickets", ["customer_id", "automatic"])
    op.create_index("ix_tickets_sla_due_at", "tickets", ["sla_due_at"])
    op.create_table(
        "saved_views",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("query", sa.String(length=2000), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("group", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
    )
    op.create_index("ix_saved_views_user_id", "saved_views", ["user_id"])
    # The search index is no model: its form differs per database (intake/core/search.py).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE TABLE {POSTGRES_TABLE} ("
            " ticket_id integer PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,"
            " content text NOT NULL,"
            " document tsvector NOT NULL)"
        )
        op.execute(POSTGRES_INDEX_DDL)
    else:
        # Terms arrive already split (words, CJK bigrams); unicode61 only splits on the spaces.
        op.execute(
            f"CREATE VIRTUAL TABLE {SQLITE_TABLE} USING fts5("
            "terms, content UNINDEXED, tokenize = 'unicode61 remove_diacritics 0')"
        )
    reindex_all(op.get_bind())


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TABLE {POSTGRES_TABLE}")
    else:
        op.execute(f"DROP TABLE {SQLITE_TABLE}")
    op.drop_index("ix_saved_views_user_id", table_name="saved_views")
    op.drop_table("saved_views")
    op.drop_index("ix_tickets_sla_due_at", table_name="tickets")
    op.drop_index("ix_tickets_customer_automatic", table_name="tickets")
    op.drop_index("ix_tickets_updated_at", table_name="tickets")
    op.drop_index("ix_tickets_queue_mailbox", table_name="tickets")
    op.drop_index("ix_tickets_queue_assignee", table_name="tickets")
    op.drop_index("ix_tickets_queue_order", table_name="tickets")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("fk_tickets_merged_into", type_="foreignkey")
        batch.drop_column("merged_into_id")
