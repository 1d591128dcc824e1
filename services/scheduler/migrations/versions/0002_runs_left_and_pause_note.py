"""runs left and the pause's note

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ("runs_left", "paused_at", "paused_by", "pause_note")


def upgrade() -> None:
    with op.batch_alter_table("schedules") as batch_op:
        batch_op.add_column(sa.Column("runs_left", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("paused_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("paused_by", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("pause_note", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedules") as batch_op:
        for name in reversed(COLUMNS):
            batch_op.drop_column(name)
