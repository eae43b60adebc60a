"""statistics on customers' lower(tier), so PostgreSQL knows how many customers a tier holds

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The queue's tier filter matches lower(tier). Without statistics on that expression PostgreSQL
# guessed 0.5 % of the customers with a tier (51 of 10,000 VIPs at 1,000,000 tickets) and planned
# for a rare tier: 0.6-1.8 s a page. Extended statistics on the expression (PostgreSQL 14+) give
# the true share; ANALYZE fills them. (Not an expression index: SQLite, whose planner needs no
# such estimate here, cannot reflect one, and the statistics cost no upkeep on writes.)
STATISTICS = "st_customers_tier_lower"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"CREATE STATISTICS {STATISTICS} ON (lower(tier)) FROM customers")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP STATISTICS IF EXISTS {STATISTICS}")
