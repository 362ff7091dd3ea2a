"""Append status changes, bump the data version, and read the history."""

import datetime as dt
from collections.abc import Sequence

from sqlmodel import Session, col, select, update

from app.capabilities.models import StatusAssessment
from app.history.models import DataVersion, StatusChange


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


def record_changes(
    session: Session,
    *,
    before: dict[int, StatusAssessment],
    after: dict[int, StatusAssessment],
    reason_code: str,
    reason: str,
    actor: str,
    evidence_ids: Sequence[int] = (),
    effective_on: dt.date,
    changed_directly: int | None = None,
    always_log: int | None = None,
) -> list[StatusChange]:
    """Append one history row per capability whose shown status changed.

    Capabilities that moved only because a child moved get the reason code `rollup`;
    `always_log` names one that gets a row even when its status stayed (an override).
    """
    rows = []
    for cap_id, now in after.items():
        previous = before.get(cap_id)
        old = previous.status if previous else "not_assessed"
        if old == now.status and cap_id != always_log:
            continue
        direct = changed_directly is None or cap_id == changed_directly
        row = StatusChange(
            capability_id=cap_id,
            from_status=old,
            to_status=now.status,
            reason_code=reason_code if direct or reason_code == "seed" else "rollup",
            reason=reason if direct else f"Roll-up after a change below: {reason}",
            evidence_ids=list(evidence_ids),
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
