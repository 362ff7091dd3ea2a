"""Evidence: list with filters, get, create, update; every change re-assesses status."""

import datetime as dt
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from app.capabilities import snapshot
from app.capabilities.models import Capability
from app.capabilities.service import Mutation
from app.claims.models import Claim
from app.core import lookup
from app.core.errors import ProblemError, not_found
from app.core.http import keyset_page
from app.core.schema import slugify, utcnow
from app.evidence.models import Evidence, EvidenceCreate, EvidencePublic, EvidenceUpdate
from app.ladder.service import ANALYTICAL_KINDS

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
            "claim": snap.claim_slug.get(item.claim_id) if item.claim_id else None,
            "counts_toward_status": snap.ladder.counts(item),
        },
    )


def list_page(
    session: Session,
    *,
    capability: str | None = None,
    claim: str | None = None,
    kind: str | None = None,
    provenance: str | None = None,
    grade: str | None = None,
    stance: str | None = None,
    q: str | None = None,
    sort: str = "date",
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[EvidencePublic], str | None]:
    """Return one page of evidence matching the filters."""
    snap = snapshot.get(session)
    statement = select(Evidence)
    if capability:
        cap_id = lookup.id_for_slug(session, Capability, capability)
        statement = statement.where(Evidence.capability_id == cap_id)
    if claim:
        claim_id = lookup.id_for_slug(session, Claim, claim)
        statement = statement.where(Evidence.claim_id == claim_id)
    for column, value in (
        (Evidence.kind, kind),
        (Evidence.provenance, provenance),
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
    rows, next_cursor = keyset_page(
        session,
        statement,
        id_column=col(Evidence.id),
        sort=sort,
        sortable=SORTABLE,
        limit=limit,
        cursor=cursor,
    )
    return [to_public(r, snap) for r in rows], next_cursor


def get(session: Session, evidence_id: int) -> Evidence:
    """Return an evidence item by id or raise 404."""
    item = session.get(Evidence, evidence_id)
    if item is None:
        raise not_found("evidence", evidence_id)
    return item


def get_public(session: Session, evidence_id: int) -> EvidencePublic:
    """Return the public view of one evidence item."""
    return to_public(get(session, evidence_id), snapshot.get(session))


def _unique_slug(session: Session, base: str) -> str:
    slug, n = base, 2
    while lookup.id_for_slug(session, Evidence, slug) is not None:
        slug = f"{base[:110]}-{n}"
        n += 1
    return slug


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


def _check_level(stance: str, level: str | None, kind: str) -> None:
    # Analytical items never establish a level, so they need not name one.
    if stance == "supports" and level is None and kind not in ANALYTICAL_KINDS:
        raise ProblemError(
            422,
            "Invalid evidence",
            "level: evidence that supports must name the level it supports.",
        )


def create(
    session: Session, data: EvidenceCreate, *, actor: str, benchmark_run_id: int | None = None
) -> Evidence:
    """Add an evidence item; the capability's status is re-assessed and any change logged."""
    _check_level(data.stance, data.level, data.kind)
    payload = data.model_dump()
    refs = _references(session, payload)
    slug = payload.pop("slug") or slugify(data.title)
    if data.slug:
        lookup.ensure_new_slug(session, Evidence, slug)
    item = Evidence.model_validate(
        payload,
        update={**refs, "slug": _unique_slug(session, slug), "benchmark_run_id": benchmark_run_id},
    )
    with Mutation(
        session,
        actor=actor,
        reason_code="evidence_added",
        reason=f"Evidence: {data.title}",
        capability_id=item.capability_id,
    ) as mutation:
        session.add(item)
        session.flush()
        assert item.id is not None
        mutation.evidence_ids = [item.id]
    session.refresh(item)
    return item


def update(session: Session, item: Evidence, data: EvidenceUpdate, *, actor: str) -> Evidence:
    """Apply a partial update to an evidence item."""
    payload = data.model_dump(exclude_unset=True)
    refs = _references(session, payload)
    stance = payload.get("stance", item.stance)
    level = payload.get("level", item.level)
    _check_level(stance, level, payload.get("kind", item.kind))
    with Mutation(
        session,
        actor=actor,
        reason_code="evidence_edited",
        reason=f"Evidence edited: {item.title}",
        evidence_ids=[item.id] if item.id else [],
        capability_id=item.capability_id,
    ):
        for key, value in {**payload, **refs}.items():
            setattr(item, key, value)
        item.version += 1
        item.updated_at = utcnow()
        session.add(item)
    session.refresh(item)
    return item
