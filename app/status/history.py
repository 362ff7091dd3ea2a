"""The append-only status history and the data version that keys caches.

Rows are appended only by the unit of work (app/status/unit_of_work.py).
"""

import datetime as dt
from collections.abc import Callable, Mapping

from sqlmodel import Session, col, select, update

from app.capabilities.models import StatusAssessment
from app.history.models import DataVersion, StatusChange

# For one capability: the reason code, the reason in words, and the evidence that caused it.
Explanation = tuple[str, str, list[int]]


def data_version(session: Session) -> int:
    """Return the counter that grows with every write."""
    row = session.get(DataVersion, 1)
    return row.counter if row else 0


def bump_data_version(session: Session) -> None:
    """Advance the data version inside the caller's transaction."""
    result = session.exec(
        update(DataVersion).where(col(DataVersion.id) == 1).values(counter=DataVersion.counter + 1)
    )
    if result.rowcount == 0:
        session.add(DataVersion(id=1, counter=1))


def changed(
    before: Mapping[int, StatusAssessment],
    after: Mapping[int, StatusAssessment],
    always: int | None = None,
) -> list[int]:
    """Return the ids of capabilities whose shown status differs (plus `always`, if given)."""
    ids = []
    for cap_id, now in after.items():
        previous = before.get(cap_id)
        old = previous.status if previous else "not_assessed"
        if old != now.status or cap_id == always:
            ids.append(cap_id)
    return ids


def append_changes(
    session: Session,
    *,
    capability_ids: list[int],
    before: Mapping[int, StatusAssessment],
    after: Mapping[int, StatusAssessment],
    explain: Callable[[int], Explanation],
    actor: str,
    effective_on: dt.date,
) -> list[StatusChange]:
    """Append one history row per capability given, with its own explanation."""
    rows = []
    for cap_id in capability_ids:
        previous = before.get(cap_id)
        reason_code, reason, evidence_ids = explain(cap_id)
        row = StatusChange(
            capability_id=cap_id,
            from_status=previous.status if previous else "not_assessed",
            to_status=after[cap_id].status,
            reason_code=reason_code,
            reason=reason[:2000],
            evidence_ids=evidence_ids,
            actor=actor,
            effective_on=effective_on,
        )
        session.add(row)
        rows.append(row)
    return rows


def history_statement(capability_id: int | None = None):
    """Return the select of status changes, optionally for one capability."""
    statement = select(StatusChange)
    if capability_id is not None:
        statement = statement.where(StatusChange.capability_id == capability_id)
    return statement
