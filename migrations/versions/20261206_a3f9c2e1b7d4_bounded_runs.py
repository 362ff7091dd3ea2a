"""bounded runs: a run's seed is a BIGINT (specs allow up to 2**63-1), and indexes for what
the run lists filter on and what a token's quota counts

Revision ID: a3f9c2e1b7d4
Revises: 3b7e51c9d2f4
Create Date: 2026-12-06 23:50:00.000000

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "a3f9c2e1b7d4"
down_revision: Union[str, Sequence[str], None] = "3b7e51c9d2f4"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("benchmark_run", schema=None) as batch_op:
        batch_op.alter_column(
            "seed", existing_type=sa.Integer(), type_=sa.BigInteger(), existing_nullable=False
        )
        batch_op.create_index("ix_benchmark_run_scenario_id_id", ["scenario_id", "id"])
        batch_op.create_index("ix_benchmark_run_state_id", ["state", "id"])
        batch_op.create_index("ix_benchmark_run_actor_created_at", ["actor", "created_at"])


def downgrade() -> None:
    """Downgrade schema (a seed beyond 2**31-1 cannot go back: such runs must be deleted)."""
    with op.batch_alter_table("benchmark_run", schema=None) as batch_op:
        batch_op.drop_index("ix_benchmark_run_actor_created_at")
        batch_op.drop_index("ix_benchmark_run_state_id")
        batch_op.drop_index("ix_benchmark_run_scenario_id_id")
        batch_op.alter_column(
            "seed", existing_type=sa.BigInteger(), type_=sa.Integer(), existing_nullable=False
        )
