"""Capabilities: read with computed status, create, update, and status updates."""

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from app.capabilities.models import (
    Capability,
    CapabilityCreate,
    CapabilityPublic,
    CapabilityUpdate,
    StatusUpdate,
)
from app.core import lookup
from app.core.errors import ProblemError, check_filter, not_found
from app.evidence.models import Evidence
from app.history.models import OVERRIDE_REASONS, ReasonCode
from app.status import snapshot
from app.status.unit_of_work import StatusWrite


def to_public(cap: Capability, snap: snapshot.Snapshot) -> CapabilityPublic:
    """Build the public view of a capability from a snapshot."""
    assert cap.id is not None
    return CapabilityPublic.model_validate(
        cap,
        update={
            "parent": snap.capability_slug.get(cap.parent_id) if cap.parent_id else None,
            "children": snap.children(cap.id),
            "assessment": snap.assessments[cap.id],
            **snap.outcome_of(cap),  # as of a past day: the outcome then
        },
    )


def list_public(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    parent: str | None = None,
    gap_only: bool = False,
) -> list[CapabilityPublic]:
    """List capabilities in hierarchy order (parents before children), filtered."""
    snap = snapshot.get(session)
    ordered = hierarchy_order(snap)
    items = [to_public(cap, snap) for cap, _depth in ordered]
    if status:
        items = [c for c in items if c.assessment.status == status]
    if kind:
        items = [c for c in items if c.kind == kind]
    if parent:
        check_filter("parent", parent, [c.slug for c in items])
        items = [c for c in items if c.parent == parent]
    if gap_only:
        items = [c for c in items if c.assessment.gap > 0]
    return items


def hierarchy_order(snap: snapshot.Snapshot) -> list[tuple[Capability, int]]:
    """Return capabilities depth-first from the roots, with their depth."""
    by_parent: dict[int | None, list[Capability]] = {}
    for cap in snap.capabilities:
        by_parent.setdefault(cap.parent_id, []).append(cap)
    out: list[tuple[Capability, int]] = []
    seen: set[int] = set()

    def walk(parent_id: int | None, depth: int) -> None:
        for cap in by_parent.get(parent_id, []):
            if cap.id in seen or cap.id is None:
                continue
            seen.add(cap.id)
            out.append((cap, depth))
            walk(cap.id, depth + 1)

    walk(None, 0)
    out.extend((cap, 0) for cap in snap.capabilities if cap.id not in seen)
    return out


def get_by_slug(session: Session, slug: str) -> Capability:
    """Return a capability row or raise 404."""
    return lookup.get_by_slug(session, Capability, slug)


def get_public(session: Session, slug: str) -> CapabilityPublic:
    """Return one capability with its assessment."""
    snap = snapshot.get(session)
    cap = snap.capability_by_slug.get(slug)
    if cap is None:
        raise not_found("capability", slug)
    return to_public(cap, snap)


def lineage(session: Session, slug: str) -> list[CapabilityPublic]:
    """Return a capability's ancestors, the root first (at most 20: a guard against cycles)."""
    snap = snapshot.get(session)
    ancestors: list[CapabilityPublic] = []
    cap = snap.capability_by_slug.get(slug)
    while cap is not None and cap.parent_id is not None and len(ancestors) < 20:
        parent = snap.capability_by_slug.get(snap.capability_slug.get(cap.parent_id, ""))
        if parent is None:
            break
        ancestors.insert(0, to_public(parent, snap))
        cap = parent
    return ancestors


def _resolve_parent(session: Session, parent_slug: str | None, self_id: int | None) -> int | None:
    if parent_slug is None:
        return None
    parent = lookup.by_slug(session, Capability, parent_slug)
    if parent is None:
        raise ProblemError(
            422, "Invalid parent", f"No capability '{parent_slug}' to be the parent."
        )
    # Walk up from the new parent: meeting ourselves would make a cycle. A cycle above it (one
    # only a bad import could make) ends the walk too, and is refused rather than followed.
    cursor: Capability | None = parent
    seen: set[int | None] = set()
    while cursor is not None and self_id is not None:
        if cursor.id == self_id:
            raise ProblemError(422, "Invalid parent", "A capability cannot be its own ancestor.")
        if cursor.id in seen:
            raise ProblemError(
                422, "Invalid parent", f"The ancestry of '{parent_slug}' holds a cycle."
            )
        seen.add(cursor.id)
        cursor = session.get(Capability, cursor.parent_id) if cursor.parent_id else None
    return parent.id


def create(session: Session, data: CapabilityCreate, *, actor: str) -> Capability:
    """Create a capability."""
    lookup.ensure_new_slug(session, Capability, data.slug)
    parent_id = _resolve_parent(session, data.parent, None)
    try:
        with StatusWrite(
            session,
            actor=actor,
            reason_code=ReasonCode.created,
            reason="Capability created",
            capability_ids=[parent_id],
        ) as write:
            cap = Capability.model_validate(
                data.model_dump(exclude={"parent"}), update={"parent_id": parent_id}
            )
            session.add(cap)
            session.flush()
            write.include(cap.id)  # a new root has no parent to bring it into scope
    except IntegrityError as exc:  # a concurrent writer took the slug first
        raise lookup.taken(Capability, data.slug) from exc
    session.refresh(cap)
    return cap


def update(
    session: Session,
    cap: Capability,
    data: CapabilityUpdate,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Capability:
    """Apply a partial update to a capability, if it is still at the version the editor read."""
    changes = data.model_dump(exclude_unset=True)
    parent_id = cap.parent_id
    if "parent" in changes:
        parent_id = _resolve_parent(session, changes.pop("parent"), cap.id)
    with StatusWrite(
        session,
        actor=actor,
        reason_code=ReasonCode.edited,
        reason="Capability edited",
        capability_ids=[cap.id, parent_id],
        directly=cap.id,
    ) as write:
        write.check_version(cap, expected_version)
        if parent_id != cap.parent_id:
            # Checked again under the lock: a concurrent move must not make a cycle.
            _resolve_parent(session, data.parent, cap.id)
        write.update(cap, {**changes, "parent_id": parent_id}, expected_version)
    session.refresh(cap)
    return cap


def update_status(
    session: Session,
    cap: Capability,
    request: StatusUpdate,
    *,
    actor: str,
    expected_version: int | None = None,
) -> Capability:
    """Override the status or link evidence, with a reason; the history records it."""
    if request.status is None and not request.clear_override and not request.evidence_ids:
        raise ProblemError(
            422, "Nothing to change", "Give a status to override, clear_override, or evidence_ids."
        )
    evidence_rows = []
    for evidence_id in request.evidence_ids:
        row = session.get(Evidence, evidence_id)
        if row is None:
            raise ProblemError(422, "Unknown evidence", f"No evidence with id {evidence_id}.")
        evidence_rows.append(row)
    reason_code = request.reason_code
    if request.status is not None:
        reason_code = ReasonCode.override
    elif request.clear_override:
        reason_code = ReasonCode.override_cleared
    elif reason_code in OVERRIDE_REASONS:
        raise ProblemError(
            422,
            "Reason does not match the change",
            f"reason_code: '{reason_code}' goes with a status to override or clear_override; "
            "linking evidence alone takes another reason.",
        )
    with StatusWrite(
        session,
        actor=actor,
        reason_code=reason_code,
        reason=request.reason,
        capability_ids=[cap.id, *(row.capability_id for row in evidence_rows)],
        evidence_ids=request.evidence_ids,
        directly=cap.id,
        always_log=request.status is not None,
    ) as write:
        write.check_version(cap, expected_version)
        for row in evidence_rows:
            if row.capability_id != cap.id:
                write.update(row, {"capability_id": cap.id})
        values: dict[str, str | None] = {}
        if request.status is not None:
            values = {"status_override": request.status.value, "override_reason": request.reason}
        elif request.clear_override:
            values = {"status_override": None, "override_reason": None}
        write.update(cap, values, expected_version)
    session.refresh(cap)
    return cap
