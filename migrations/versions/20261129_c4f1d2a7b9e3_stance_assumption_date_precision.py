"""evidence assumption; date precision on claims, evidence and events

Stances `inconclusive` and `not_found` need no schema change (the stance column is text);
an inconclusive item names its assumption.

Revision ID: c4f1d2a7b9e3
Revises: 97bf29452a2e
Create Date: 2026-11-29 17:50:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes  # noqa: F401


# revision identifiers, used by Alembic.
revision: str = 'c4f1d2a7b9e3'
down_revision: Union[str, Sequence[str], None] = 'b14cf9a2a414'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES_WITH_PRECISION = ("claim", "evidence", "event")


def upgrade() -> None:
    """Upgrade schema."""
    for table in TABLES_WITH_PRECISION:
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column(
                    'date_precision',
                    sqlmodel.sql.sqltypes.AutoString(length=5),
                    nullable=False,
                    server_default='day',
                )
            )
    with op.batch_alter_table('evidence') as batch_op:
        batch_op.add_column(
            sa.Column('assumption', sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('evidence') as batch_op:
        batch_op.drop_column('assumption')
    for table in reversed(TABLES_WITH_PRECISION):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column('date_precision')
