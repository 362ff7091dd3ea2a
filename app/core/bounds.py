"""The bounds of fields that several schemas share, declared once.

A request schema, the table column and the import schema of a field all read its bound from
here, so none can admit a value another refuses (``tests/core/test_field_bounds.py`` walks every
model and checks). Text bounds become the column's VARCHAR length through SQLModel's
``max_length``; integer ranges say which column type holds them (32-bit ``INTEGER`` or 64-bit
``BIGINT`` on PostgreSQL).
"""

from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import BigInteger
from sqlmodel import Field as ColumnField

INT32_MAX = 2**31 - 1  # PostgreSQL INTEGER
INT64_MAX = 2**63 - 1  # PostgreSQL BIGINT

# Who wrote a history row or queued a run: "token:<name>", "token:<name> (dashboard)",
# "seed", "cli", "bundled-scenarios", ...
ACTOR_MAX = 120
TOKEN_ACTOR_PREFIX = "token:"
DASHBOARD_ACTOR_SUFFIX = " (dashboard)"
# A token's name becomes part of its actor, so its bound follows from the actor's.
TOKEN_NAME_MAX = ACTOR_MAX - len(TOKEN_ACTOR_PREFIX) - len(DASHBOARD_ACTOR_SUFFIX)

Actor = Annotated[str, Field(max_length=ACTOR_MAX)]
TokenName = Annotated[str, Field(min_length=1, max_length=TOKEN_NAME_MAX)]

# A row's optimistic-lock version: an INTEGER column.
ROW_VERSION_MAX = INT32_MAX
RowVersion = Annotated[int, Field(ge=1, le=ROW_VERSION_MAX)]

# A run's seed: the spec schema allows 0..2**63-1, so the column is a BIGINT.
SEED_MAX = INT64_MAX
Seed = Annotated[int, Field(ge=0, le=SEED_MAX)]


def seed_field(**kwargs: Any) -> Any:
    """The Field of a table's seed column (BIGINT), with the seed's bounds."""
    return ColumnField(ge=0, le=SEED_MAX, sa_type=BigInteger, **kwargs)


def token_actor(name: str, *, dashboard: bool = False) -> str:
    """Return the history actor of a token, at most ACTOR_MAX characters.

    A name within TOKEN_NAME_MAX always fits whole; a longer one (a token made before the
    bound) is cut to fit, so its writes still commit.
    """
    suffix = DASHBOARD_ACTOR_SUFFIX if dashboard else ""
    room = ACTOR_MAX - len(TOKEN_ACTOR_PREFIX) - len(suffix)
    if len(name) > room:
        name = name[: room - 1] + "…"
    return f"{TOKEN_ACTOR_PREFIX}{name}{suffix}"


# The overview shows the hierarchy a page at a time: a page ends at the next top-level
# capability once it holds this many rows (never twice this many).
OVERVIEW_PAGE_ROWS = 50

# A capability page lists its claims, and its evidence, this many rows a page.
CAPABILITY_PAGE_ROWS = 50

# Tokens a process remembers as refused lately (run quotas), so that a burst of their
# submissions is answered 429 before its credential, body or the database costs anything.
REFUSALS_REMEMBERED = 10_000
