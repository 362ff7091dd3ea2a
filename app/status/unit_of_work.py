"""The unit of work: every write that can move a status, and every history row, goes through it.

It serialises writers to the capabilities it names (their whole hierarchy: an immediate
transaction on SQLite, `SELECT … FOR UPDATE` of the hierarchy's root on PostgreSQL), assesses the
ledger before and after, applies guarded updates (the version in the WHERE clause, bumped by
exactly one), appends one history row per status that moved, and commits all of it at once.
"""

from collections.abc import Iterable, Mapping
from functools import partial
from types import TracebackType
from typing import Any

from sqlalchemy import func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.capabilities.models import Capability, StatusAssessment
from app.claims.models import Claim
from app.core.errors import ProblemError
from app.core.http import etag_for
from app.core.schema import utcnow
from app.events.models import Event
from app.evidence.models import Evidence, Stance
from app.history.models import ReasonCode, StatusChange
from app.status import hierarchy, history
from app.status.rules import Facts, Ladder, assess_facts, load_ladder, replay
from app.status.snapshot import today
from app.status.verdicts import load_rules


def stale(row: Any, current_version: int) -> ProblemError:
    """Return the 412 answer for a write based on an older version."""
    kind = type(row).__tablename__
    return ProblemError(
        412,
        "Precondition failed",
        "The resource changed since you read it; GET it again and re-apply your change.",
        current_etag=etag_for(kind, row.id or 0, current_version),
    )


def guarded_update(
    session: Session, row: Any, values: Mapping[str, Any], expected_version: int | None = None
) -> None:
    """Update one versioned row only if it is still at the expected version; bump it by one.

    Raise 412 when another writer got there first. `expected_version` defaults to the version
    this session read.
    """
    model = type(row)
    version = row.version if expected_version is None else expected_version
    result = session.exec(
        update(model)
        .where(col(model.id) == row.id, col(model.version) == version)
        .values(**values, version=version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        session.expire(row)
        raise stale(row, row.version)
    session.expire(row)


def lock_hierarchies(session: Session, capability_ids: Iterable[int | None] | None) -> None:
    """Serialise this transaction against every writer to the same hierarchies (None: all)."""
    if session.get_bind().dialect.name == "sqlite":
        connection = session.connection()
        dbapi = connection.connection.dbapi_connection
        # Under pysqlite a transaction is open only once it has written: it holds the lock.
        if dbapi is not None and not dbapi.in_transaction:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        return
    locked: set[int] = set()
    while True:
        if capability_ids is None:
            parents = _parents(session)
            roots = _roots(parents, parents.keys())
        else:
            roots = _roots(hierarchy.ancestry(session, capability_ids), capability_ids)
        if roots <= locked:
            return
        # Lock in id order so two writers never wait on each other crosswise.
        session.exec(
            select(Capability.id)
            .where(col(Capability.id).in_(sorted(roots - locked)))
            .order_by(col(Capability.id))
            .with_for_update()
        ).all()
        locked |= roots  # a parent may have moved meanwhile: check the roots again


def _parents(session: Session) -> dict[int, int | None]:
    return {
        cap_id: parent_id
        for cap_id, parent_id in session.exec(select(Capability.id, Capability.parent_id)).all()
        if cap_id is not None
    }


def _root(parents: Mapping[int, int | None], cap_id: int) -> int:
    cursor, seen = cap_id, set()
    while (parent := parents.get(cursor)) is not None and cursor not in seen:
        seen.add(cursor)
        cursor = parent
    return cursor


def _roots(parents: Mapping[int, int | None], capability_ids: Iterable[int | None]) -> set[int]:
    return {_root(parents, cap_id) for cap_id in capability_ids if cap_id is not None}


class StatusWrite:
    """One write: lock, assess before, apply guarded changes, assess after, log, commit."""

    def __init__(
        self,
        session: Session,
        *,
        actor: str,
        reason_code: ReasonCode | str,
        reason: str,
        capability_ids: Iterable[int | None] | None = (),
        evidence_ids: Iterable[int] = (),
        directly: int | None = None,
        always_log: bool = False,
    ) -> None:
        self.session = session
        self.actor = actor
        self.reason_code = reason_code
        self.reason = reason
        # The capabilities written, whose hierarchies are locked and assessed; None: all.
        self.capability_ids = None if capability_ids is None else list(capability_ids)
        self.evidence_ids = list(evidence_ids)
        # The capability written (others moved by the roll-up); log it even if its status stays.
        self.directly = directly
        self.always_log = always_log
        self.bumped: set[tuple[str, int]] = set()  # (table, id) of each row updated or added
        self.before: dict[int, StatusAssessment] = {}
        self.scope: set[int] = set()
        self.ladder = Ladder({}, {})
        self.replayed = False
        self.discarded = False

    def __enter__(self) -> "StatusWrite":
        self.session.flush()
        lock_hierarchies(self.session, self.capability_ids)
        self.session.expire_all()  # read what the last writer committed, now that we hold the lock
        self.ladder = load_ladder()
        self.before = self._assess()
        return self

    def _assess(self) -> dict[int, StatusAssessment]:
        """Assess the statuses in scope, which is all the history records.

        A status reads only the hierarchy and, per capability, which kinds of evidence meet the
        ladder: one grouped query counts them, so the cost does not grow with the claims and
        evidence under it. The claims' parts of the assessments stay empty here.
        """
        self.session.flush()
        # A move between hierarchies keeps both in scope: the one it left may move too.
        if self.capability_ids is None:
            self.scope |= set(_parents(self.session))
        else:
            self.scope |= hierarchy.members(self.session, self.capability_ids)
        scope = self.scope
        if not scope:
            return {}
        caps = self.session.exec(select(Capability).where(col(Capability.id).in_(scope))).all()
        kinds = self.session.execute(
            sa_select(
                col(Evidence.capability_id),
                col(Evidence.level),
                col(Evidence.origin),
                col(Evidence.kind),
                col(Evidence.grade),
                func.count(),
            )
            .where(
                col(Evidence.capability_id).in_(scope),
                col(Evidence.stance) == Stance.supports,
                col(Evidence.level).is_not(None),
            )
            .group_by(
                col(Evidence.capability_id),
                col(Evidence.level),
                col(Evidence.origin),
                col(Evidence.kind),
                col(Evidence.grade),
            )
        ).all()
        facts: dict[int, Facts] = {}
        for cap_id, level, origin, kind, grade, count in kinds:
            if self.ladder.meets(Stance.supports, level, origin, kind, grade):
                facts.setdefault(cap_id, Facts()).counting[(level, origin)] += count
        return assess_facts(list(caps), facts, {})

    def update(
        self, row: Any, values: Mapping[str, Any], expected_version: int | None = None
    ) -> None:
        """Apply a guarded update to a capability, claim or evidence row."""
        self.bumped.add((str(type(row).__tablename__), int(row.id)))
        guarded_update(self.session, row, values, expected_version)

    def added(self, row: Claim | Evidence) -> None:
        """Log a claim or evidence item inserted inside the write, so readers re-derive it."""
        self.session.flush()
        self.bumped.add((str(row.__tablename__), int(row.id or 0)))

    def include(self, capability_id: int | None) -> None:
        """Add a capability to the write's scope (one created inside it, once flushed)."""
        if self.capability_ids is not None and capability_id is not None:
            self.capability_ids.append(capability_id)

    def check_version(self, row: Any, expected_version: int | None) -> None:
        """Raise 412 unless the row (as committed now) is still at the expected version."""
        if expected_version is not None and row.version != expected_version:
            raise stale(row, row.version)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None or self.discarded:
            self.session.rollback()
            return
        try:
            if not self.replayed:
                after = self._assess()
                always = self.directly if self.always_log else None
                moved = history.changed(self.before, after, always)
                history.append_changes(
                    self.session,
                    capability_ids=moved,
                    before=self.before,
                    after=after,
                    explain=self._explain,
                    actor=self.actor,
                    effective_on=today(),
                )
                self._bump_moved(moved)
            touched = (
                history.EVERYTHING
                if self.capability_ids is None
                else history.Touched.hierarchies(
                    self.scope,
                    claim_ids=self._rows("claim"),
                    evidence_ids=self._rows("evidence") | set(self.evidence_ids),
                )
            )
            history.bump_data_version(self.session, touched)
            self.session.commit()
        except BaseException:
            self.session.rollback()
            raise

    def _rows(self, table: str) -> set[int]:
        return {row_id for kind, row_id in self.bumped if kind == table}

    def discard(self) -> None:
        """Write nothing after all (the data version stays)."""
        self.discarded = True

    def _explain(self, cap_id: int) -> history.Explanation:
        if self.directly is None or cap_id == self.directly or self.reason_code == ReasonCode.seed:
            return self.reason_code, self.reason, self.evidence_ids
        return ReasonCode.rollup, f"Roll-up after a change in a related part: {self.reason}", []

    def _bump_moved(self, moved: list[int]) -> None:
        # A capability's ETag moves when its computed status moves, so an editor holding an
        # older view cannot override it unawares; the one written was bumped already.
        for cap_id in moved:
            if ("capability", cap_id) in self.bumped:
                continue
            cap = self.session.get(Capability, cap_id)
            if cap is not None:
                self.update(cap, {})

    def replay_history(self) -> int:
        """Write the first history: the evidence replayed in the order it could have been known."""
        self.session.flush()
        caps = list(self.session.exec(select(Capability)).all())
        claims = list(self.session.exec(select(Claim)).all())
        events = list(self.session.exec(select(Event)).all())
        evidence = list(self.session.exec(select(Evidence)).all())
        found = replay(caps, claims, events, evidence, load_ladder(), load_rules(), today())
        for change in found:
            reason = "; ".join(e.title for e in change.causes) or "Seed data"
            explanation: history.Explanation = (
                ReasonCode.seed,
                reason,
                [e.id for e in change.causes if e.id is not None],
            )
            history.append_changes(
                self.session,
                capability_ids=[change.capability_id],
                before={change.capability_id: change.before} if change.before else {},
                after={change.capability_id: change.after},
                explain=partial(_same, explanation),
                actor=self.actor,
                effective_on=change.day,
            )
        self.replayed = True
        return len(found)


def _same(explanation: history.Explanation, _cap_id: int) -> history.Explanation:
    return explanation


def has_history(session: Session) -> bool:
    """Return whether any status change has been recorded."""
    return session.exec(select(StatusChange.id).limit(1)).first() is not None
