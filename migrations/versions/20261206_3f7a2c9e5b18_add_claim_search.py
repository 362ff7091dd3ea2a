"""add claim search: an FTS5 index with triggers on SQLite, a generated tsvector column with a
GIN index on PostgreSQL (both kept current by the database on every write)

Revision ID: 3f7a2c9e5b18
Revises: a3f9c2e1b7d4
Create Date: 2026-12-06 23:50:00.000000

"""

from typing import Sequence, Union

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "3f7a2c9e5b18"
down_revision: Union[str, Sequence[str], None] = "a3f9c2e1b7d4"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The SQL is frozen here (a migration must not change when app code does); the names match
# app/claims/search.py, which queries the index and tells Alembic's comparison to skip it.
COLUMNS = "text, metric, slug"
NEW = "new.text, new.metric, new.slug"
OLD = "old.text, old.metric, old.slug"
SQLITE_UP = [
    "CREATE VIRTUAL TABLE claim_fts USING fts5(text, metric, slug, content='claim', "
    "content_rowid='id', tokenize='unicode61')",
    f"CREATE TRIGGER claim_fts_ai AFTER INSERT ON claim BEGIN "
    f"INSERT INTO claim_fts(rowid, {COLUMNS}) VALUES (new.id, {NEW}); END",
    f"CREATE TRIGGER claim_fts_ad AFTER DELETE ON claim BEGIN "
    f"INSERT INTO claim_fts(claim_fts, rowid, {COLUMNS}) VALUES ('delete', old.id, {OLD}); END",
    f"CREATE TRIGGER claim_fts_au AFTER UPDATE ON claim BEGIN "
    f"INSERT INTO claim_fts(claim_fts, rowid, {COLUMNS}) VALUES ('delete', old.id, {OLD}); "
    f"INSERT INTO claim_fts(rowid, {COLUMNS}) VALUES (new.id, {NEW}); END",
    "INSERT INTO claim_fts(claim_fts) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS claim_fts_au",
    "DROP TRIGGER IF EXISTS claim_fts_ad",
    "DROP TRIGGER IF EXISTS claim_fts_ai",
    "DROP TABLE IF EXISTS claim_fts",
]
PG_UP = [
    "ALTER TABLE claim ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
    "to_tsvector('simple', coalesce(text, '') || ' ' || "
    "coalesce(replace(metric, '_', ' '), '') || ' ' || replace(slug, '-', ' '))) STORED",
    "CREATE INDEX ix_claim_search_vector ON claim USING gin (search_vector)",
]
PG_DOWN = [
    "DROP INDEX IF EXISTS ix_claim_search_vector",
    "ALTER TABLE claim DROP COLUMN IF EXISTS search_vector",
]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    """Upgrade schema."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _run(PG_UP)
    elif dialect == "sqlite":
        _run(SQLITE_UP)


def downgrade() -> None:
    """Downgrade schema."""
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _run(PG_DOWN)
    elif dialect == "sqlite":
        _run(SQLITE_DOWN)
