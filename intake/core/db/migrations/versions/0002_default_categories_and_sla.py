"""default categories and SLA policies

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CATEGORIES = [
    ("inquiry", "Inquiry"),
    ("product_issue", "Product issue"),
    ("service_issue", "Service issue"),
    ("billing", "Billing"),
    ("complaint", "Complaint"),
    ("suggestion", "Suggestion"),
    ("other", "Other"),
]
SLA_MINUTES = [("urgent", 60), ("high", 240), ("medium", 1440), ("low", 4320)]


def upgrade() -> None:
    categories = sa.table(
        "categories",
        sa.column("key", sa.String),
        sa.column("label", sa.String),
        sa.column("retired", sa.Boolean),
        sa.column("position", sa.Integer),
    )
    op.bulk_insert(
        categories,
        [
            {"key": key, "label": label, "retired": False, "position": position}
            for position, (key, label) in enumerate(CATEGORIES)
        ],
    )
    policies = sa.table(
        "sla_policies",
        sa.column("priority", sa.String),
        sa.column("first_response_minutes", sa.Integer),
    )
    op.bulk_insert(
        policies,
        [{"priority": p, "first_response_minutes": m} for p, m in SLA_MINUTES],
    )


def downgrade() -> None:
    op.execute("DELETE FROM sla_policies")
    op.execute("DELETE FROM categories")
