"""evidence origin replaces provenance; claim claimant and claimant kind

`origin` says where an item comes from relative to the claim's claimant (claimant, reported,
independent, computed). It replaces `provenance`, whose vendor statement/demo/paper split is
already carried by the item's kind. The upgrade fills origin from provenance and grade; the
downgrade fills provenance back from origin and kind.

Revision ID: 3b7e51c9d2f4
Revises: 3f7a9c2e5b14
Create Date: 2026-12-06 23:55:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '3b7e51c9d2f4'
down_revision: Union[str, Sequence[str], None] = '3f7a9c2e5b14'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

ORIGIN_FROM_PROVENANCE = """
    CASE
        WHEN provenance = 'simulation' OR kind IN ('analytical_check', 'simulation_run')
            OR grade = 'D' THEN 'computed'
        WHEN provenance = 'independent_measurement' THEN 'independent'
        WHEN provenance IN ('vendor_demo', 'vendor_paper') OR grade = 'P' THEN 'claimant'
        ELSE 'reported'
    END
"""
PROVENANCE_FROM_ORIGIN = """
    CASE
        WHEN origin = 'computed' THEN 'simulation'
        WHEN origin = 'independent' THEN 'independent_measurement'
        WHEN origin = 'claimant' AND kind IN ('paper', 'filing', 'benchmark_result')
            THEN 'vendor_paper'
        WHEN origin = 'claimant' AND kind IN ('live_demo', 'photo') THEN 'vendor_demo'
        WHEN origin = 'claimant' THEN 'vendor_statement'
        ELSE 'third_party'
    END
"""


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('evidence') as batch_op:
        batch_op.add_column(
            sa.Column(
                'origin',
                sqlmodel.sql.sqltypes.AutoString(length=12),
                nullable=False,
                server_default='reported',
            )
        )
    op.execute(f"UPDATE evidence SET origin = {ORIGIN_FROM_PROVENANCE}")
    with op.batch_alter_table('evidence') as batch_op:
        batch_op.drop_column('provenance')
    with op.batch_alter_table('claim') as batch_op:
        batch_op.add_column(
            sa.Column(
                'claimant',
                sqlmodel.sql.sqltypes.AutoString(length=120),
                nullable=False,
                server_default='Tesla',
            )
        )
        batch_op.add_column(
            sa.Column(
                'claimant_kind',
                sqlmodel.sql.sqltypes.AutoString(length=12),
                nullable=False,
                server_default='company',
            )
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('claim') as batch_op:
        batch_op.drop_column('claimant_kind')
        batch_op.drop_column('claimant')
    with op.batch_alter_table('evidence') as batch_op:
        batch_op.add_column(
            sa.Column(
                'provenance',
                sqlmodel.sql.sqltypes.AutoString(length=40),
                nullable=False,
                server_default='third_party',
            )
        )
    op.execute(f"UPDATE evidence SET provenance = {PROVENANCE_FROM_ORIGIN}")
    with op.batch_alter_table('evidence') as batch_op:
        batch_op.drop_column('origin')
