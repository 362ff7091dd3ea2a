"""Evidence: list with filters, get, create, update; every change re-assesses status."""

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.capabilities.models import Capability
from app.claims.models import Claim
from app.core import lookup
from app.core.as_of import known_by
from app.core.errors import ProblemError, not_found
from app.core.http import count, keyset_page
from app.core.schema import precision_problem, slugify
from app.evidence.checks import ChecksFilter, check_clause
from app.evidence.models import (
    Evidence,
    EvidenceCreate,
    EvidencePublic,
    EvidenceUpdate,
    stance_problem,
)
from app.history.models import ReasonCode
from app.status import snapshot
from app.status.asof import evidence_known
from app.status.rules import ANALYTICAL_KINDS
from app.status.unit_of_work import StatusWrite
from app.status.verdicts import dated_before_claim

# A generated slug gets a numeric suffix when taken; give up (409) after this many tries.
SLUG_ATTEMPTS = 1_000

SORTABLE = {
    "date": (col(Evidence.date), dt.date, None),
    "slug": (col(Evidence.slug), str, None),
    "id": (col(Evidence.id), int, None),
}


def to_public(item: Evidence, snap: snapshot.Snapshot) -> EvidencePublic:
    """Build the public view of an evidence item."""
    return EvidencePublic.model_validate(
        item,
        update={
            "capability": snap.capability_slug.get(item.capability_id, "?"),
            "claim": snap.claim_slug(item.claim_id),
            "counts_toward_status": snap.ladder.counts(item),
        },
    )


def _matching(
    session: Session,
    *,
    capability: str | None = None,
    claim: str | None = None,
    kind: str | None = None,
    origin: str | None = None,
    grade: str | None = None,
    stance: str | None = None,
    q: str | None = None,
    checks: ChecksFilter = "include",
) -> SelectOfScalar[Evidence]:
    """Return the statement of the evidence matching the filters (an unknown slug: 422).

    `checks` says whether the ledger's own computations (app.evidence.checks) are left out
    (`exclude`), listed with the evidence about the world (`include`) or listed alone (`only`).
    """
    snap = snapshot.get(session)
    statement = select(Evidence)
    if snap.as_of is not None:
        statement = statement.where(known_by(Evidence.date, Evidence.date_precision, snap.as_of))
    if checks == "exclude":
        statement = statement.where(~check_clause())
    elif checks == "only":
        statement = statement.where(check_clause())
    if capability:
        cap_id = lookup.filter_id(session, Capability, capability, "capability")
        statement = statement.where(Evidence.capability_id == cap_id)
    if claim:
        claim_id = lookup.filter_id(session, Claim, claim, "claim")
        statement = statement.where(Evidence.claim_id == claim_id)
    for column, value in (
        (Evidence.kind, kind),
        (Evidence.origin, origin),
        (Evidence.grade, grade),
        (Evidence.stance, stance),
    ):
        if value:
            statement = statement.where(column == value)
    if q:
        pattern = f"%{q}%"
        statement = statement.where(
            or_(col(Evidence.title).ilike(pattern), col(Evidence.summary).ilike(pattern))
        )
    return statement


def list_page(
    session: Session,
    *,
    sort: str = "date",
    limit: int = 50,
    cursor: str | None = None,
    **filters: Any,
) -> tuple[list[EvidencePublic], str | None]:
    """Return one page of evidence matching the filters (see `_matching`)."""
    snap = snapshot.get(session)
    rows, next_cursor = keyset_page(
        session,
        _matching(session, **filters),
        id_column=col(Evidence.id),
        sort=sort,
        sortable=SORTABLE,
        limit=limit,
        cursor=cursor,
    )
    return [to_public(r, snap) for r in rows], next_cursor


def count_matching(session: Session, **filters: Any) -> int:
    """Return how many evidence items match the filters (all of them without filters)."""
    return count(session, _matching(session, **filters))


def titles(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """Return the titles of the evidence items given, by id."""
    found: dict[int, str] = {}
    for chunk in lookup.id_chunks(ids):
        statement = select(Evidence.id, Evidence.title).where(col(Evidence.id).in_(chunk))
        found.update({i: t for i, t in session.exec(statement).all() if i is not None})
    return found


def get(session: Session, evidence_id: int) -> Evidence:
    """Return an evidence item by id or raise 404."""
    item = session.get(Evidence, evidence_id)
    if item is None:
        raise not_found("evidence", evidence_id)
    return item


def get_public(session: Session, evidence_id: int) -> EvidencePublic:
    """Return the public view of one evidence item (404 if not yet published as of the day)."""
    item, snap = get(session, evidence_id), snapshot.get(session)
    if snap.as_of is not None and not evidence_known(item, snap.as_of):
        raise ProblemError(
            404, "Not found", f"No evidence {evidence_id} had been published by {snap.as_of}."
        )
    return to_public(item, snap)


def _references(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    refs: dict[str, Any] = {}
    if "capability" in data:
        refs["capability_id"] = lookup.require_id(
            session, Capability, data.pop("capability"), "capability"
        )
    if "claim" in data:
        slug = data.pop("claim")
        refs["claim_id"] = lookup.require_id(session, Claim, slug, "claim") if slug else None
    return refs


def _check(session: Session, item: Evidence, *, dates: bool = True) -> None:
    """Refuse an item whose stance, level, date or claim do not fit together (422)."""
    problem = stance_problem(item.stance, item.assumption) or precision_problem(
        item.date, item.date_precision
    )
    # Analytical items never establish a level, so they need not name one.
    if (
        not problem
        and item.stance == "supports"
        and not item.level
        and item.kind not in ANALYTICAL_KINDS
    ):
        problem = "level: evidence that supports must name the level it supports"
    if dates and not problem and item.claim_id is not None and item.stance == "supports":
        claim = session.get(Claim, item.claim_id)
        chain: dict[int, Claim] = {}  # the claims it restates, to find its first statement
        cursor = claim
        while cursor is not None and cursor.restates_id and cursor.restates_id not in chain:
            cursor = session.get(Claim, cursor.restates_id)
            if cursor is not None and cursor.id is not None:
                chain[cursor.id] = cursor
        if claim is not None and dated_before_claim(item, claim, chain):
            problem = (
                f"date: the item ({item.date}) is older than the claim it supports "
                f"({claim.stated_on}), which restates no earlier claim"
            )
    if problem:
        raise ProblemError(422, "Invalid evidence", problem + ".")


def _slug_candidates(session: Session, base: str) -> Iterator[str]:
    stem = base[:110]
    taken = set(
        session.exec(
            select(Evidence.slug).where(
                or_(col(Evidence.slug) == base, col(Evidence.slug).like(f"{stem}-%"))
            )
        ).all()
    )
    if base not in taken:
        yield base
    for n in range(2, SLUG_ATTEMPTS):
        if f"{stem}-{n}" not in taken:
            yield f"{stem}-{n}"


def _insert_with_free_slug(session: Session, item: Evidence, chosen: str | None) -> None:
    """Insert the item; a generated slug takes a free suffix, even under a race.

    The unique index decides: a collision rolls back to a savepoint and tries the next free
    suffix, so concurrent writers with the same title all succeed.
    """
    candidates = [chosen] if chosen else _slug_candidates(session, item.slug)
    for slug in candidates:
        item.slug = slug
        try:
            with session.begin_nested():
                session.add(item)
        except IntegrityError:
            if item in session:
                session.expunge(item)
            continue
        return
    raise lookup.taken(Evidence, chosen or item.slug)


def create(
    session: Session, data: EvidenceCreate, *, actor: str, benchmark_run_id: int | None = None
) -> Evidence:
    """Add an evidence item; the capability's status is re-assessed and any change logged."""
    return create_many(session, [data], actor=actor, benchmark_run_id=benchmark_run_id)[0]


def create_many(
    session: Session,
    batch: list[EvidenceCreate],
    *,
    actor: str,
    benchmark_run_id: int | None = None,
) -> list[Evidence]:
    """Add evidence items in one unit of work: one lock, one re-assessment, one commit."""
    items: list[tuple[Evidence, str | None]] = []
    for data in batch:
        payload = data.model_dump()
        refs = _references(session, payload)
        chosen = payload.pop("slug")
        if chosen:
            lookup.ensure_new_slug(session, Evidence, chosen)
        item = Evidence.model_validate(
            payload,
            update={
                **refs,
                "slug": chosen or slugify(data.title),
                "benchmark_run_id": benchmark_run_id,
            },
        )
        _check(session, item)
        items.append((item, chosen))
    capability_ids = [item.capability_id for item, _ in items]
    title = batch[0].title if len(batch) == 1 else f"{len(batch)} items, {batch[0].title}"
    with StatusWrite(
        session,
        actor=actor,
        reason_code=ReasonCode.evidence_added,
        reason=f"Evidence: {title}",
        capability_ids=capability_ids,
        directly=capability_ids[0] if len(set(capability_ids)) == 1 else None,
    ) as write:
        for item, chosen in items:
            _insert_with_free_slug(session, item, chosen)
            write.added(item)
        write.evidence_ids = [item.id for item, _ in items if item.id is not None]
    for item, _ in items:
        session.refresh(item)
    return [item for item, _ in items]


def update(
    session: Session,
    item: Evidence,
    data: EvidenceUpdate,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Evidence:
    """Apply a partial update to an evidence item, if still at the version the editor read."""
    payload = data.model_dump(exclude_unset=True)
    refs = _references(session, payload)
    changes = {**payload, **refs}
    proposed = Evidence.model_validate({**item.model_dump(), **changes})
    # An edit that leaves the date, the claim and the stance alone is not refused for them.
    _check(
        session,
        proposed,
        dates=bool({"date", "date_precision", "claim_id", "stance"} & set(changes)),
    )
    with StatusWrite(
        session,
        actor=actor,
        reason_code=ReasonCode.evidence_edited,
        reason=f"Evidence edited: {item.title}",
        capability_ids=[item.capability_id, changes.get("capability_id")],
        evidence_ids=[item.id] if item.id else [],
        directly=item.capability_id,
    ) as write:
        write.check_version(item, expected_version)
        write.update(item, changes, expected_version)
    session.refresh(item)
    return item
