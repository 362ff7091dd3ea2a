"""add benchmark workers (liveness of each run-queue worker)

Revision ID: 5d1c2a7e9f30
Revises: 97bf29452a2e
Create Date: 2026-11-29 17:30:00.000000

"""

from typing import Sequence, Union

import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5d1c2a7e9f30"
down_revision: Union[str, Sequence[str], None] = "c4f1d2a7b9e3"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "benchmark_worker",
        sa.Column("worker_id", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_benchmark_worker")),
    )
    with op.batch_alter_table("benchmark_worker", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_benchmark_worker_last_seen_at"), ["last_seen_at"], unique=False
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("benchmark_worker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_benchmark_worker_last_seen_at"))
    op.drop_table("benchmark_worker")
