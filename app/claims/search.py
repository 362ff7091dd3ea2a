"""Full-text search of claims on the database's own engine: FTS5 on SQLite, tsvector on PostgreSQL.

The index lives beside the `claim` table and is kept current by the database itself (triggers
on SQLite, a generated column on PostgreSQL), created by the migration `add claim search`. It
is not part of the SQLModel models: the migration environment leaves these names out of its
comparison (`IGNORED_TABLES`, `IGNORED_COLUMNS`, `IGNORED_INDEXES`).

A query is split into words; every word must match, in any order, as a word or the start of
one ("ExaPOD peak" finds the ExaPOD's peak claims). Results are ranked: bm25 on SQLite,
ts_rank on PostgreSQL.
"""

import re

from sqlalchemy import text
from sqlmodel import Session

FTS_TABLE = "claim_fts"
VECTOR_COLUMN = "search_vector"
VECTOR_INDEX = "ix_claim_search_vector"
# What the index holds: the claim's words, its figure's metric, and its slug split into words.
INDEXED = ("text", "metric", "slug")
IGNORED_TABLES = frozenset(
    {
        FTS_TABLE,
        *(f"{FTS_TABLE}_{part}" for part in ("data", "idx", "docsize", "config", "content")),
    }
)
IGNORED_COLUMNS = frozenset({("claim", VECTOR_COLUMN)})
IGNORED_INDEXES = frozenset({VECTOR_INDEX})
MAX_WORDS = 12
_WORD = re.compile(r"\w+", re.UNICODE)


def words(query: str | None) -> list[str]:
    """Return the search words of a query (letters and digits only, lower case, deduplicated)."""
    found: list[str] = []
    for word in _WORD.findall((query or "").lower()):
        for part in word.split("_"):
            if part and part not in found:
                found.append(part)
    return found[:MAX_WORDS]


def ranked_ids(session: Session, query: str | None) -> list[int] | None:
    """Return the ids of the claims matching every word, best match first.

    None when the query has no words (no search). Every word matches as a prefix.
    """
    terms = words(query)
    if not terms:
        return None
    if session.get_bind().dialect.name == "postgresql":
        tsquery = " & ".join(f"{term}:*" for term in terms)
        rows = session.execute(
            text(
                f"SELECT id FROM claim WHERE {VECTOR_COLUMN} @@ to_tsquery('simple', :q) "
                f"ORDER BY ts_rank({VECTOR_COLUMN}, to_tsquery('simple', :q)) DESC, id"
            ),
            {"q": tsquery},
        )
    else:
        # Each word quoted: FTS5 syntax in the reader's text is never interpreted.
        match = " ".join(f'"{term}"*' for term in terms)
        rows = session.execute(
            text(
                f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :q "
                f"ORDER BY bm25({FTS_TABLE}), rowid"
            ),
            {"q": match},
        )
    return [int(row[0]) for row in rows]
