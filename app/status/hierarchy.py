"""Capability hierarchies read with recursive queries: the cost follows the hierarchy, not the
ledger's size."""

from collections.abc import Iterable

from sqlalchemy import bindparam, text
from sqlmodel import Session

# Up from the capabilities given to every ancestor; UNION (not UNION ALL) ends a cycle.
_UP = """
WITH RECURSIVE up(id, parent_id) AS (
    SELECT id, parent_id FROM capability WHERE id IN :ids
    UNION
    SELECT c.id, c.parent_id FROM capability c JOIN up ON c.id = up.parent_id
)"""

_ANCESTRY = text(_UP + " SELECT id, parent_id FROM up").bindparams(bindparam("ids", expanding=True))
# Down from every ancestor: the whole hierarchies holding the capabilities given.
_MEMBERS = text(
    _UP
    + """,
down(id) AS (
    SELECT id FROM up
    UNION
    SELECT c.id FROM capability c JOIN down ON c.parent_id = down.id
)
SELECT id FROM down"""
).bindparams(bindparam("ids", expanding=True))


def _ids(capability_ids: Iterable[int | None]) -> list[int]:
    return sorted({cap_id for cap_id in capability_ids if cap_id is not None})


def ancestry(session: Session, capability_ids: Iterable[int | None]) -> dict[int, int | None]:
    """Return the parent of each capability given and of each of their ancestors."""
    ids = _ids(capability_ids)
    if not ids:
        return {}
    rows = session.execute(_ANCESTRY, {"ids": ids}).all()
    return {int(cap_id): parent_id for cap_id, parent_id in rows}


def members(session: Session, capability_ids: Iterable[int | None]) -> set[int]:
    """Return every capability in the hierarchies holding those given."""
    ids = _ids(capability_ids)
    if not ids:
        return set()
    return {int(cap_id) for (cap_id,) in session.execute(_MEMBERS, {"ids": ids}).all()}
