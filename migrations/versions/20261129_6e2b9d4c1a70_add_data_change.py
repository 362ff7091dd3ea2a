"""add data change log (what each data-version step touched, for incremental reads), and
indexes for the claims and evidence lists' default order

Revision ID: 6e2b9d4c1a70
Revises: 5d1c2a7e9f30
Create Date: 2026-11-29 20:40:00.000000

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "6e2b9d4c1a70"
down_revision: Union[str, Sequence[str], None] = "5d1c2a7e9f30"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "data_change",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("capability_ids", sa.JSON(), nullable=True),
        sa.Column("events", sa.Boolean(), nullable=False),
        sa.Column("everything", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_data_change")),
    )
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.create_index("ix_claim_stated_on_id", ["stated_on", "id"], unique=False)
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index("ix_evidence_date_id", ["date", "id"], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_date_id")
    with op.batch_alter_table("claim", schema=None) as batch_op:
        batch_op.drop_index("ix_claim_stated_on_id")
    op.drop_table("data_change")
