"""an index on customers' tier, for the queue's tier filter

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_customers_tier", "customers", ["tier"])


def downgrade() -> None:
    op.drop_index("ix_customers_tier", table_name="customers")
