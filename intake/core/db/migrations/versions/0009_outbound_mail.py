"""outbound mail: deliveries to the relay, canned responses, acknowledgement switch per mailbox

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A few starting texts in English and Chinese; admins edit or delete them at Admin > Canned.
CANNED = (
    (
        "Thanks, we are on it",
        "en",
        "Dear {customer_name},\n\nthank you for your message. We are looking into it and will get "
        "back to you as soon as we can. Your ticket number is {ticket_id}.\n\n"
        "Kind regards,\n{agent_name}",
    ),
    (
        "Need more details",
        "en",
        "Dear {customer_name},\n\nto help you further we need a few more details: your order "
        "number and, if possible, a photo of the problem.\n\nKind regards,\n{agent_name}",
    ),
    (
        "已收到，正在处理",
        "zh",
        "{customer_name}，您好：\n\n感谢您的来信。我们正在处理您的问题，会尽快回复您。"
        "您的工单号是 {ticket_id}。\n\n此致\n{agent_name}",
    ),
    (
        "需要更多信息",
        "zh",
        "{customer_name}，您好：\n\n为了更好地帮助您，请提供您的订单号，如有可能请附上问题的照片。"
        "\n\n此致\n{agent_name}",
    ),
)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "message_id",
            sa.Integer(),
            sa.ForeignKey("messages.id", ondelete="CASCADE"),
            nullable=False,
            unique=True,
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("mail_from", sa.String(length=320), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("relay_answer", sa.Text(), nullable=True),
        sa.Column(
            "created_by_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=200), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_deliveries_state", "deliveries", ["state"])
    op.create_index("ix_deliveries_recipient", "deliveries", ["kind", "recipient", "created_at"])
    canned = op.create_table(
        "canned_responses",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    now = datetime.now(UTC)
    op.bulk_insert(
        canned,
        [
            {"title": t, "language": lang, "body": b, "position": i, "updated_at": now}
            for i, (t, lang, b) in enumerate(CANNED, start=1)
        ],
    )
    with op.batch_alter_table("mailboxes") as batch:
        batch.add_column(
            sa.Column("acknowledge", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("mailboxes") as batch:
        batch.drop_column("acknowledge")
    op.drop_table("canned_responses")
    op.drop_index("ix_deliveries_recipient", table_name="deliveries")
    op.drop_index("ix_deliveries_state", table_name="deliveries")
    op.drop_table("deliveries")
