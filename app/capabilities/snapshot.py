"""A read snapshot of the whole ledger, cached per data version across requests."""

import datetime as dt
import threading
from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from app.capabilities.models import Capability, StatusAssessment
from app.claims.models import Claim
from app.core.config import get_settings
from app.events.models import Event
from app.evidence.models import Evidence
from app.history.service import data_version
from app.ladder.service import Ladder, assess, claim_evidence, load_ladder


def today() -> dt.date:
    """Return today's date (fixed by LEDGER_TODAY when set, for reproducible output)."""
    fixed = get_settings().today
    return dt.date.fromisoformat(fixed) if fixed else dt.date.today()


@dataclass
class Snapshot:
    """Everything a read needs, loaded once per data version."""

    version: int
    day: dt.date
    capabilities: list[Capability]
    claims: list[Claim]
    evidence: list[Evidence]
    events: list[Event]
    ladder: Ladder
    assessments: dict[int, StatusAssessment]
    capability_slug: dict[int, str] = field(default_factory=dict)
    event_slug: dict[int, str] = field(default_factory=dict)
    claim_slug: dict[int, str] = field(default_factory=dict)
    children: dict[int, list[str]] = field(default_factory=dict)
    supported_claims: set[int] = field(default_factory=set)
    contradicted_claims: set[int] = field(default_factory=set)


_lock = threading.Lock()
_cached: Snapshot | None = None


def load(session: Session) -> Snapshot:
    """Load the snapshot from the database (uncached)."""
    capabilities = list(session.exec(select(Capability).order_by(col(Capability.id))).all())
    claims = list(session.exec(select(Claim).order_by(col(Claim.id))).all())
    evidence = list(session.exec(select(Evidence).order_by(col(Evidence.id))).all())
    events = list(session.exec(select(Event).order_by(col(Event.id))).all())
    ladder = load_ladder(session)
    snap = Snapshot(
        version=data_version(session),
        day=today(),
        capabilities=capabilities,
        claims=claims,
        evidence=evidence,
        events=events,
        ladder=ladder,
        assessments=assess(capabilities, claims, evidence, ladder, today()),
    )
    snap.capability_slug = {c.id: c.slug for c in capabilities if c.id is not None}
    snap.event_slug = {e.id: e.slug for e in events if e.id is not None}
    snap.claim_slug = {c.id: c.slug for c in claims if c.id is not None}
    for cap in capabilities:
        if cap.parent_id is not None:
            snap.children.setdefault(cap.parent_id, []).append(cap.slug)
    snap.supported_claims, snap.contradicted_claims = claim_evidence(evidence)
    for rows in (capabilities, claims, evidence, events):
        for row in rows:
            session.expunge(row)
    return snap


def get(session: Session) -> Snapshot:
    """Return the snapshot for the current data version, reusing the cached one if fresh."""
    global _cached
    version = data_version(session)
    cached = _cached
    if cached is not None and cached.version == version and cached.day == today():
        return cached
    with _lock:
        snap = load(session)
        _cached = snap
        return snap


def invalidate() -> None:
    """Drop the process-local snapshot (tests switch databases)."""
    global _cached
    _cached = None
