"""Claims: list with filters and search, get, create, update."""

import datetime as dt
from typing import Any

from sqlalchemy import BindParameter, bindparam, case
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from app.capabilities.models import Capability
from app.claims import search
from app.claims.models import Claim, ClaimCreate, ClaimPublic, ClaimUpdate, Figure, Verdict
from app.core import lookup
from app.core.as_of import known_by
from app.core.errors import ProblemError
from app.core.http import count, keyset_page
from app.core.schema import precision_problem
from app.events.models import Event
from app.evidence.models import Evidence
from app.history.models import ReasonCode
from app.status import snapshot
from app.status.unit_of_work import StatusWrite

SORTABLE = {
    "stated_on": (col(Claim.stated_on), dt.date, None),
    "deadline": (col(Claim.deadline), dt.date, dt.date(1, 1, 1)),
    "value": (col(Claim.value), float, -1e308),
    "slug": (col(Claim.slug), str, None),
    "id": (col(Claim.id), int, None),
}
FIGURE_FIELDS = ("metric", "value", "unit", "datatype", "scale")


def to_public(claim: Claim, snap: snapshot.Snapshot) -> ClaimPublic:
    """Build the public view of a claim."""
    figure = (
        Figure(**{name: getattr(claim, name) for name in FIGURE_FIELDS})
        if claim.metric is not None and claim.value is not None and claim.unit
        else None
    )
    assert claim.id is not None
    verdict = snap.verdicts[claim.id]
    return ClaimPublic.model_validate(
        claim,
        update={
            "capability": snap.capability_slug.get(claim.capability_id, "?"),
            "event": snap.event_slug.get(claim.event_id, "?"),
            "figure": figure,
            "restates": snap.claim_slug(claim.restates_id),
            "overdue_days": snap.overdue_days(claim),
            "promise": snap.promise(claim),
            "consistency": verdict.consistency,
            "contradicted": snap.contradicted(claim.id),
            "verdict": verdict.code,
            "verdict_reasons": list(verdict.reasons),
        },
    )


def _matching(
    session: Session,
    snap: snapshot.Snapshot,
    *,
    capability: str | None = None,
    event: str | None = None,
    grade: str | None = None,
    implied_status: str | None = None,
    q: str | None = None,
    overdue: bool | None = None,
    contradicted: bool | None = None,
    verdict: Verdict | str | None = None,
    has_figure: bool | None = None,
) -> tuple[SelectOfScalar[Claim], list[int] | None]:
    """Return the statement of the claims matching the filters, and the search's ranked ids."""
    statement = select(Claim)
    if snap.as_of is not None:
        statement = statement.where(known_by(Claim.stated_on, Claim.date_precision, snap.as_of))
    for model, slug, column, field in (
        (Capability, capability, Claim.capability_id, "capability"),
        (Event, event, Claim.event_id, "event"),
    ):
        if slug:
            statement = statement.where(column == lookup.filter_id(session, model, slug, field))
    if grade:
        statement = statement.where(Claim.grade == grade)
    if implied_status:
        statement = statement.where(Claim.implied_status == implied_status)
    ranked = search.ranked_ids(session, q)
    if ranked is not None:
        statement = statement.where(col(Claim.id).in_(_inline("matched", ranked)))
    if has_figure is not None:
        statement = statement.where(
            col(Claim.value).is_not(None) if has_figure else col(Claim.value).is_(None)
        )
    if contradicted is not None:
        ids = _inline("contradicted", [c for c in snap.claims_by_id if snap.contradicted(c)])
        statement = statement.where(
            col(Claim.id).in_(ids) if contradicted else col(Claim.id).not_in(ids)
        )
    if verdict:
        statement = statement.where(
            col(Claim.id).in_(
                _inline("verdict", [cid for cid, v in snap.verdicts.items() if v.code == verdict])
            )
        )
    if overdue is not None:
        overdue_ids = _inline(
            "overdue",
            [cid for cid, c in snap.claims_by_id.items() if snap.overdue_days(c) is not None],
        )
        statement = statement.where(
            col(Claim.id).in_(overdue_ids) if overdue else col(Claim.id).not_in(overdue_ids)
        )
    return statement, ranked


def list_page(
    session: Session,
    *,
    sort: str | None = "stated_on",
    limit: int = 50,
    cursor: str | None = None,
    **filters: Any,
) -> tuple[list[ClaimPublic], str | None]:
    """Return one page of claims matching the filters (see `_matching`).

    With a search (`q`), sort "relevance" (the default then) puts the best matches first.
    """
    snap = snapshot.get(session)
    statement, ranked = _matching(session, snap, **filters)
    sort = sort or ("relevance" if ranked is not None else "stated_on")
    sortable: dict[str, tuple[Any, type, Any]] = dict(SORTABLE)
    row_value = None
    if sort.lstrip("-") == "relevance":
        # Without a search every claim matches equally: the position is the id order.
        positions = {cid: place for place, cid in enumerate(ranked or [])}
        rank = (
            case(positions, value=col(Claim.id), else_=len(positions))
            if positions
            else col(Claim.id)
        )
        sortable["relevance"] = (rank, int, None)

        def row_value(row: Claim) -> int:
            return positions.get(row.id or 0, len(positions)) if positions else row.id or 0

    rows, next_cursor = keyset_page(
        session,
        statement,
        id_column=col(Claim.id),
        sort=sort,
        sortable=sortable,
        limit=limit,
        cursor=cursor,
        row_value=row_value,
    )
    return [to_public(r, snap) for r in rows], next_cursor


def count_matching(session: Session, **filters: Any) -> int:
    """Return how many claims match the filters (the lists say "25 of 167 claims")."""
    statement, _ranked = _matching(session, snapshot.get(session), **filters)
    return count(session, statement)


def count_all(session: Session) -> int:
    """Return how many claims the ledger holds."""
    return len(snapshot.get(session).claims_by_id)


def _inline(name: str, ids: list[int]) -> BindParameter[list[int]]:
    """Return ids rendered into the SQL: a large ledger would pass the drivers' parameter limit.

    They are integers from the snapshot, never user text, so inlining them is safe.
    """
    return bindparam(name, ids, expanding=True, literal_execute=True)


def get_by_slug(session: Session, slug: str) -> Claim:
    """Return a claim or raise 404."""
    return lookup.get_by_slug(session, Claim, slug)


def get_public(session: Session, slug: str) -> ClaimPublic:
    """Return the public view of one claim (404 for a claim not yet made as of the day read)."""
    claim, snap = get_by_slug(session, slug), snapshot.get(session)
    if claim.id not in snap.claims_by_id:
        raise ProblemError(404, "Not found", f"No claim '{slug}' had been made by {snap.as_of}.")
    return to_public(claim, snap)


def _references(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    refs: dict[str, Any] = {}
    if "capability" in data:
        refs["capability_id"] = lookup.require_id(
            session, Capability, data.pop("capability"), "capability"
        )
    if "event" in data:
        refs["event_id"] = lookup.require_id(session, Event, data.pop("event"), "event")
    if "restates" in data:
        slug = data.pop("restates")
        refs["restates_id"] = lookup.require_id(session, Claim, slug, "restates") if slug else None
    if "figure" in data:
        figure = data.pop("figure")
        for name in FIGURE_FIELDS:
            refs[name] = figure.get(name) if figure else None
    return refs


def _check_dates(stated_on: dt.date, precision: str) -> None:
    problem = precision_problem(stated_on, precision)
    if problem:
        raise ProblemError(422, "Invalid date", f"stated_on: {problem}.")


def create(session: Session, data: ClaimCreate, *, actor: str) -> Claim:
    """Create a claim."""
    lookup.ensure_new_slug(session, Claim, data.slug)
    payload = data.model_dump()
    refs = _references(session, payload)
    try:
        with StatusWrite(
            session,
            actor=actor,
            reason_code=ReasonCode.claim_added,
            reason=f"Claim {data.slug}",
            capability_ids=[refs["capability_id"]],
        ) as write:
            claim = Claim.model_validate(payload, update=refs)
            session.add(claim)
            write.added(claim)
    except IntegrityError as exc:  # a concurrent writer took the slug first
        raise lookup.taken(Claim, data.slug) from exc
    session.refresh(claim)
    return claim


def update(
    session: Session,
    claim: Claim,
    data: ClaimUpdate,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Claim:
    """Apply a partial update to a claim, if it is still at the version the editor read."""
    payload = data.model_dump(exclude_unset=True)
    refs = _references(session, payload)
    if refs.get("restates_id") is not None and refs["restates_id"] == claim.id:
        raise ProblemError(422, "Invalid reference", "restates: a claim cannot restate itself.")
    _check_dates(
        payload.get("stated_on", claim.stated_on),
        payload.get("date_precision", claim.date_precision),
    )
    with StatusWrite(
        session,
        actor=actor,
        reason_code=ReasonCode.claim_edited,
        reason=f"Claim {claim.slug}",
        capability_ids=[claim.capability_id, refs.get("capability_id")],
        directly=claim.capability_id,
    ) as write:
        write.check_version(claim, expected_version)
        write.update(claim, {**payload, **refs}, expected_version)
    session.refresh(claim)
    return claim


def evidence_for(session: Session, claim: Claim) -> list[Evidence]:
    """Return the evidence linked to a claim, oldest first."""
    return list(
        session.exec(
            select(Evidence).where(Evidence.claim_id == claim.id).order_by(col(Evidence.date))
        ).all()
    )
