"""data change log names the claim and evidence rows each write changed, so a reader
re-derives those claims' verdicts instead of re-reading whole hierarchies (null: not logged);
an index covering the evidence fields the ladder reads, for the unit of work's count

Revision ID: 8c4e1f2a9d63
Revises: 3f7a2c9e5b18
Create Date: 2026-12-07 03:30:00.000000

"""

from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "8c4e1f2a9d63"
down_revision: Union[str, Sequence[str], None] = "3f7a2c9e5b18"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("data_change", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claim_ids", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("evidence_ids", sa.JSON(), nullable=True))
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.create_index(
            "ix_evidence_ladder",
            ["capability_id", "stance", "level", "origin", "kind", "grade"],
            unique=False,
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("evidence", schema=None) as batch_op:
        batch_op.drop_index("ix_evidence_ladder")
    with op.batch_alter_table("data_change", schema=None) as batch_op:
        batch_op.drop_column("evidence_ids")
        batch_op.drop_column("claim_ids")
