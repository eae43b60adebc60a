"""analytics: audit log, ratings, root-cause terms and complaint groups, dashboard indexes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
# The covering index holds tickets.sla_breached, added by the SLA branch (0010).
depends_on: str | Sequence[str] | None = "0010"


def upgrade() -> None:
    op.create_index(
        "ix_tickets_customer_created", "tickets", ["customer_id", "created_at", "automatic"]
    )
    op.create_index("ix_tickets_category_created", "tickets", ["category", "created_at"])
    op.create_index("ix_tickets_resolved_at", "tickets", ["resolved_at", "automatic"])
    op.create_index("ix_messages_received_at", "messages", ["received_at"])
    op.create_index(
        "ix_tickets_analytics",
        "tickets",
        [
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
        ],
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "actor_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=10), nullable=False),
        sa.Column("object_type", sa.String(length=40), nullable=False),
        sa.Column("object_id", sa.String(length=100), nullable=False),
        sa.Column("object_label", sa.String(length=300), nullable=False),
        sa.Column("field", sa.String(length=60), nullable=True),
        sa.Column("old", sa.JSON(), nullable=True),
        sa.Column("new", sa.JSON(), nullable=True),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_actor", "audit_log", ["actor"])
    op.create_index("ix_audit_log_object", "audit_log", ["object_type", "object_id"])
    op.create_table(
        "ticket_ratings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("rating", sa.String(length=10), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_ticket_ratings_rated_at", "ticket_ratings", ["rated_at"])
    op.create_table(
        "ticket_analysis",
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("analyzed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
    )
    op.create_table(
        "ticket_terms",
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("term", sa.String(length=80), primary_key=True),
    )
    op.create_index("ix_ticket_terms_term", "ticket_terms", ["term", "ticket_id"])
    op.create_table(
        "term_days",
        sa.Column("term", sa.String(length=80), primary_key=True),
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("tickets", sa.Integer(), nullable=False),
    )
    op.create_index("ix_term_days_day", "term_days", ["day"])
    op.create_table(
        "term_day_totals",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("tickets", sa.Integer(), nullable=False),
        sa.Column("terms", sa.Integer(), nullable=False),
    )
    op.create_table(
        "complaint_groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("category", sa.String(length=60), nullable=True),
        sa.Column("label", sa.String(length=300), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_complaint_groups_category", "complaint_groups", ["category"])
    op.create_table(
        "root_cause_snapshots",
        sa.Column("key", sa.String(length=200), primary_key=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_table(
        "complaint_group_members",
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("complaint_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "ticket_id",
            sa.Integer(),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_complaint_group_members_ticket", "complaint_group_members", ["ticket_id"])


def downgrade() -> None:
    for table in (
        "root_cause_snapshots",
        "complaint_group_members",
        "complaint_groups",
        "term_day_totals",
        "term_days",
        "ticket_terms",
        "ticket_analysis",
        "ticket_ratings",
        "audit_log",
    ):
        op.drop_table(table)
    op.drop_index("ix_tickets_analytics", "tickets")
    op.drop_index("ix_messages_received_at", "messages")
    op.drop_index("ix_tickets_resolved_at", "tickets")
    op.drop_index("ix_tickets_category_created", "tickets")
    op.drop_index("ix_tickets_customer_created", "tickets")
