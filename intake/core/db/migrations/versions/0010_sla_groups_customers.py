"""SLA clocks with business hours, groups with automatic assignment, customer merges

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# SQLite keeps 0001's unique constraint on sla_policies.priority without a name; naming it by
# convention lets batch mode find and drop it.
SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}
RESOLUTION_MINUTES = [("urgent", 1440), ("high", 4320), ("medium", 7200), ("low", 14400)]


def _old_priority_unique() -> str:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        return "sla_policies_priority_key"
    return "uq_sla_policies_priority"


def upgrade() -> None:
    op.create_table(
        "business_calendars",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.JSON(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name"),
    )
    with op.batch_alter_table("sla_policies", naming_convention=SQLITE_NAMES) as batch:
        batch.drop_constraint(_old_priority_unique(), type_="unique")
        batch.add_column(sa.Column("tier", sa.String(length=40), nullable=False, server_default=""))
        batch.add_column(sa.Column("resolution_minutes", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("calendar_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_sla_policies_calendar",
            "business_calendars",
            ["calendar_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_unique_constraint("uq_sla_policies_priority_tier", ["priority", "tier"])
    # Resolution targets are new: the policies 0002 seeded get the defaults of intake.core.sla.
    for priority, minutes in RESOLUTION_MINUTES:
        op.execute(
            sa.text(
                "UPDATE sla_policies SET resolution_minutes = :m"
                " WHERE priority = :p AND resolution_minutes IS NULL"
            ).bindparams(m=minutes, p=priority)
        )
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("away", sa.Boolean(), nullable=False, server_default="0"))
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("sla_warning_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("sla_breached", sa.Boolean(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("sla_target", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("sla_pauses", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("sla_notified", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("sla_check_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_tickets_sla_warning_at", ["sla_warning_at"])
        batch.create_index("ix_tickets_sla_check_at", ["sla_check_at"])
    op.create_table(
        "groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("strategy", sa.String(length=20), nullable=False),
        sa.Column("max_open", sa.Integer(), nullable=True),
        sa.Column(
            "last_assigned_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "group_members",
        sa.Column(
            "group_id",
            sa.Integer(),
            sa.ForeignKey("groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index("ix_group_members_user_id", "group_members", ["user_id"])
    op.create_table(
        "customer_merges",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "kept_id",
            sa.Integer(),
            sa.ForeignKey("customers.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("merged_id", sa.Integer(), nullable=False),
        sa.Column("merged", sa.JSON(), nullable=False),
        sa.Column("ticket_ids", sa.JSON(), nullable=False),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("customer_merges")
    op.drop_index("ix_group_members_user_id", table_name="group_members")
    op.drop_table("group_members")
    op.drop_table("groups")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_sla_check_at")
        batch.drop_index("ix_tickets_sla_warning_at")
        for column in (
            "sla_check_at",
            "sla_notified",
            "sla_pauses",
            "sla_target",
            "sla_breached",
            "sla_warning_at",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("away")
    op.execute("DELETE FROM sla_policies WHERE tier <> ''")  # one policy per priority again
    with op.batch_alter_table("sla_policies") as batch:
        batch.drop_constraint("uq_sla_policies_priority_tier", type_="unique")
        batch.drop_constraint("fk_sla_policies_calendar", type_="foreignkey")
        batch.drop_column("calendar_id")
        batch.drop_column("resolution_minutes")
        batch.drop_column("tier")
        batch.create_unique_constraint(_old_priority_unique(), ["priority"])
    op.drop_table("business_calendars")
