"""Capabilities: read with computed status, create, update, and status updates."""

from sqlalchemy import inspect as sa_inspect
from sqlmodel import Session, select

from app.capabilities import snapshot
from app.capabilities.models import (
    Capability,
    CapabilityCreate,
    CapabilityPublic,
    CapabilityUpdate,
    StatusAssessment,
    StatusUpdate,
)
from app.core import lookup
from app.core.errors import ProblemError, not_found
from app.core.schema import utcnow
from app.evidence.models import Evidence
from app.history import service as history_service
from app.ladder.service import assess, load_ladder


def to_public(cap: Capability, snap: snapshot.Snapshot) -> CapabilityPublic:
    """Build the public view of a capability from a snapshot."""
    assert cap.id is not None
    return CapabilityPublic.model_validate(
        cap,
        update={
            "parent": snap.capability_slug.get(cap.parent_id) if cap.parent_id else None,
            "children": snap.children.get(cap.id, []),
            "assessment": snap.assessments[cap.id],
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
    for cap in snap.capabilities:
        if cap.slug == slug:
            return to_public(cap, snap)
    raise not_found("capability", slug)


def current_assessments(session: Session) -> dict[int, StatusAssessment]:
    """Assess every capability as the session sees the data now (flushed, uncommitted)."""
    from app.claims.models import Claim

    session.flush()
    caps = session.exec(select(Capability)).all()
    claims = session.exec(select(Claim)).all()
    evidence = session.exec(select(Evidence)).all()
    return assess(caps, claims, evidence, load_ladder(session), snapshot.today())


def _resolve_parent(session: Session, parent_slug: str | None, self_id: int | None) -> int | None:
    if parent_slug is None:
        return None
    parent = lookup.by_slug(session, Capability, parent_slug)
    if parent is None:
        raise ProblemError(
            422, "Invalid parent", f"No capability '{parent_slug}' to be the parent."
        )
    # Walk up from the new parent: meeting ourselves would make a cycle.
    cursor: Capability | None = parent
    while cursor is not None and self_id is not None:
        if cursor.id == self_id:
            raise ProblemError(422, "Invalid parent", "A capability cannot be its own ancestor.")
        cursor = session.get(Capability, cursor.parent_id) if cursor.parent_id else None
    return parent.id


class Mutation:
    """Wrap one write: assess before, apply, assess after, record status changes."""

    def __init__(
        self,
        session: Session,
        *,
        actor: str,
        reason_code: str,
        reason: str,
        evidence_ids: list[int] | None = None,
        capability_id: int | None = None,
        always_log: bool = False,
    ) -> None:
        self.session = session
        self.actor = actor
        self.reason_code = reason_code
        self.reason = reason
        self.evidence_ids = evidence_ids or []
        self.capability_id = capability_id
        # Log the capability written even if its status stays (an override that confirms it).
        self.always_log = always_log

    def __enter__(self) -> "Mutation":
        self.before = current_assessments(self.session)
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.session.rollback()
            return
        after = current_assessments(self.session)
        changed = history_service.record_changes(
            self.session,
            before=self.before,
            after=after,
            reason_code=self.reason_code,
            reason=self.reason,
            actor=self.actor,
            evidence_ids=self.evidence_ids,
            effective_on=snapshot.today(),
            changed_directly=self.capability_id,
            always_log=self.capability_id if self.always_log else None,
        )
        for row in changed:
            # A capability's ETag must move when its computed status moves, so an editor
            # holding an older view cannot override it unawares.
            cap = self.session.get(Capability, row.capability_id)
            if cap is not None and not sa_inspect(cap).attrs.version.history.has_changes():
                cap.version += 1
                self.session.add(cap)
        history_service.bump_data_version(self.session)
        self.session.commit()


def create(session: Session, data: CapabilityCreate, *, actor: str) -> Capability:
    """Create a capability."""
    lookup.ensure_new_slug(session, Capability, data.slug)
    with Mutation(session, actor=actor, reason_code="created", reason="Capability created"):
        cap = Capability.model_validate(
            data.model_dump(exclude={"parent"}),
            update={"parent_id": _resolve_parent(session, data.parent, None)},
        )
        session.add(cap)
    session.refresh(cap)
    return cap


def update(session: Session, cap: Capability, data: CapabilityUpdate, *, actor: str) -> Capability:
    """Apply a partial update to a capability."""
    changes = data.model_dump(exclude_unset=True)
    with Mutation(
        session,
        actor=actor,
        reason_code="edited",
        reason="Capability edited",
        capability_id=cap.id,
    ):
        if "parent" in changes:
            cap.parent_id = _resolve_parent(session, changes.pop("parent"), cap.id)
        for key, value in changes.items():
            setattr(cap, key, value)
        cap.version += 1
        cap.updated_at = utcnow()
        session.add(cap)
    session.refresh(cap)
    return cap


def update_status(
    session: Session, cap: Capability, request: StatusUpdate, *, actor: str
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
        reason_code = "override"
    elif request.clear_override:
        reason_code = "override_cleared"
    with Mutation(
        session,
        actor=actor,
        reason_code=reason_code,
        reason=request.reason,
        evidence_ids=request.evidence_ids,
        capability_id=cap.id,
        always_log=request.status is not None,
    ):
        for row in evidence_rows:
            if row.capability_id != cap.id:
                row.capability_id = cap.id  # type: ignore[assignment]
                row.version += 1
                session.add(row)
        if request.status is not None:
            cap.status_override = request.status.value
            cap.override_reason = request.reason
        elif request.clear_override:
            cap.status_override = None
            cap.override_reason = None
        cap.version += 1
        cap.updated_at = utcnow()
        session.add(cap)
    session.refresh(cap)
    return cap
