"""add sources

Revision ID: 5a1c0e2d7b3f
Revises: 97bf29452a2e
Create Date: 2026-11-29 17:40:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = '5a1c0e2d7b3f'
down_revision: Union[str, Sequence[str], None] = '97bf29452a2e'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('source',
    sa.Column('date', sa.Date(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('grade', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=False),
    sa.Column('outlet', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('date_precision', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source'))
    )
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_source_key'), ['key'], unique=True)


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('source', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_source_key'))

    op.drop_table('source')
