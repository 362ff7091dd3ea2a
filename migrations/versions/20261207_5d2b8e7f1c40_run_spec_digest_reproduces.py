"""a run keeps the digest of its mode and spec, and names the earlier run of the same spec
whose checks it repeated figure for figure (it records no evidence of its own)

Revision ID: 5d2b8e7f1c40
Revises: 8c4e1f2a9d63
Create Date: 2026-12-07 17:00:00.000000

"""

import hashlib
import json
from typing import Any, Sequence, Union

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5d2b8e7f1c40"
down_revision: Union[str, Sequence[str], None] = "8c4e1f2a9d63"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _digest(mode: str, spec: Any) -> str:
    # As app.benchmarks.models.spec_digest computed it when this revision was written.
    canonical = json.dumps({"mode": mode, "spec": spec}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table("benchmark_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("spec_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("reproduces_run_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_benchmark_run_reproduces_run_id_benchmark_run",
            "benchmark_run",
            ["reproduces_run_id"],
            ["id"],
        )
        batch_op.create_index("ix_benchmark_run_spec_digest_id", ["spec_digest", "id"])
    runs = sa.table(
        "benchmark_run",
        sa.column("id", sa.Integer),
        sa.column("mode", sa.String),
        sa.column("spec", sa.JSON),
        sa.column("spec_digest", sa.String),
    )
    connection = op.get_bind()
    rows = connection.execute(sa.select(runs.c.id, runs.c.mode, runs.c.spec)).all()
    for run_id, mode, spec in rows:
        connection.execute(
            runs.update().where(runs.c.id == run_id).values(spec_digest=_digest(mode, spec or {}))
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("benchmark_run", schema=None) as batch_op:
        batch_op.drop_index("ix_benchmark_run_spec_digest_id")
        batch_op.drop_constraint(
            "fk_benchmark_run_reproduces_run_id_benchmark_run", type_="foreignkey"
        )
        batch_op.drop_column("reproduces_run_id")
        batch_op.drop_column("spec_digest")
