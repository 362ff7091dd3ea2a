"""The append-only status history, and the versions that key caches.

Rows are appended only by the unit of work (app/status/unit_of_work.py). The ledger's version
moves with every ledger write and logs what it touched; the run queue's moves apart from it
(app/core/versions.py), so a run's progress never invalidates a ledger page.
"""

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, delete, select, update
from sqlmodel.sql.expression import SelectOfScalar

from app.capabilities.models import StatusAssessment
from app.core import versions
from app.core.schema import DatePrecision, Level
from app.evidence.models import Evidence
from app.history.models import DataChange, DataVersion, ReasonCode, StatusChange

# For one capability: the reason code, the reason in words, and the evidence that caused it.
# (reason code, or a legacy code sent by a script; reason; evidence ids)
Explanation = tuple[ReasonCode | str, str, list[int]]


PRECISION_ORDER = {"day": 0, "month": 1, "year": 2, "none": 3}


def change_precision(effective_on: dt.date, items: Iterable[Evidence]) -> str:
    """Return how precisely a status change's day is known, from the items that moved it.

    To the day when an item known to the day is dated on it (or every item is known to the
    day); otherwise as coarsely as the items known only to the month or year: a change that an
    item dated "Aug 2021" caused is shown as Aug 2021, not as the 1st or as an event's day.
    """
    moved = list(items)
    coarse = [i.date_precision for i in moved if i.date_precision != DatePrecision.day]
    if not coarse or any(
        i.date_precision == DatePrecision.day and i.date == effective_on for i in moved
    ):
        return "day"
    return max(coarse, key=lambda p: PRECISION_ORDER.get(p, 0))


def data_version(session: Session) -> int:
    """Return the ledger's counter, which grows with every ledger write."""
    row = session.get(DataVersion, versions.LEDGER_ROW)
    return row.counter if row else 0


@dataclass(frozen=True)
class Touched:
    """What one write changed of the read snapshot (app/status/snapshot.py)."""

    capability_ids: frozenset[int] = frozenset()  # whole hierarchies: their rows and statuses
    claim_ids: frozenset[int] = frozenset()  # the claim rows added or changed
    evidence_ids: frozenset[int] = frozenset()  # the evidence rows added or changed
    events: bool = False
    everything: bool = False

    @classmethod
    def hierarchies(
        cls,
        capability_ids: Iterable[int],
        *,
        claim_ids: Iterable[int] = (),
        evidence_ids: Iterable[int] = (),
    ) -> "Touched":
        """Name the capabilities whose hierarchies changed, and the claims and items written."""
        return cls(
            capability_ids=frozenset(capability_ids),
            claim_ids=frozenset(claim_ids),
            evidence_ids=frozenset(evidence_ids),
        )


EVERYTHING = Touched(everything=True)
EVENTS = Touched(events=True)
# A ledger write the snapshot does not hold: questions, a run's simulated figures without evidence.
OUTSIDE_SNAPSHOT = Touched()

# Readers further behind than this reload everything, so the log stays small.
KEEP_CHANGES = 5000


def bump_data_version(session: Session, touched: Touched) -> int:
    """Advance the ledger's version inside the caller's transaction and log what it touched."""
    versions.mark_moved(session)
    result = session.execute(
        update(DataVersion)
        .where(col(DataVersion.id) == versions.LEDGER_ROW)
        .values(counter=DataVersion.counter + 1)
        .returning(col(DataVersion.counter))
    ).first()
    if result is None:
        session.add(DataVersion(id=1, counter=1))
        session.flush()
        version = 1
    else:
        version = int(result[0])
    session.add(
        DataChange(
            version=version,
            capability_ids=sorted(touched.capability_ids),
            claim_ids=sorted(touched.claim_ids),
            evidence_ids=sorted(touched.evidence_ids),
            events=touched.events,
            everything=touched.everything,
        )
    )
    if version % 500 == 0:
        session.execute(delete(DataChange).where(col(DataChange.version) <= version - KEEP_CHANGES))
    return version


def bump_runs_version(session: Session) -> int:
    """Advance the run queue's version inside the caller's transaction (ledger pages keep theirs).

    An upsert, so the first bump on a database that never had the row cannot race another.
    """
    versions.mark_moved(session)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    upsert = (
        insert(DataVersion)
        .values(id=versions.RUNS_ROW, counter=1)
        .on_conflict_do_update(
            index_elements=[col(DataVersion.id)], set_={"counter": DataVersion.counter + 1}
        )
        .returning(col(DataVersion.counter))
    )
    return int(session.execute(upsert).scalar_one())


def changes_since(session: Session, after: int, upto: int) -> list[DataChange] | None:
    """Return the logged changes after one version up to another, or None if any is missing."""
    rows = list(
        session.exec(
            select(DataChange)
            .where(col(DataChange.version) > after, col(DataChange.version) <= upto)
            .order_by(col(DataChange.version))
        ).all()
    )
    return rows if len(rows) == upto - after else None


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
            from_status=previous.status if previous else Level.not_assessed,
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


def history_statement(capability_id: int | None = None) -> SelectOfScalar[StatusChange]:
    """Return the select of status changes, optionally for one capability."""
    statement = select(StatusChange)
    if capability_id is not None:
        statement = statement.where(StatusChange.capability_id == capability_id)
    return statement
